import { register, startLanguage } from "./i18n.js";

register({
  index_intro: ["Pilih aplikasi:", "Choose an app:"],
  app_console: ["Konsol loket (petugas)", "Counter console (officers)"],
  app_supervisor: ["Supervisor", "Supervisor"],
  app_reports: ["Laporan (supervisor, admin)", "Reports (supervisors, admins)"],
  app_admin: ["Admin", "Admin"],
  app_devices: [
    "Layar aula dan kios dibuka dengan tautan perangkat masing-masing (qms device add).",
    "Hall displays and kiosks open their own device links (qms device add).",
  ],
});
startLanguage();
