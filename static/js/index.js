import { startLanguage } from "./i18n.js";

startLanguage();
