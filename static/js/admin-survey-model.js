// The follow-up plan's pure part, for the admin's survey tab (static/js/admin-survey.js):
// a period picked as kind, year and part is the plan's label (`2026-Q1`, as
// qms/survey/plan.py takes it) and its days (as `GET …/survey/results` takes them);
// one action per element is the plan's text, and a text written so reads back.

export const PARTS = {
  quarter: [1, 2, 3, 4].map((n) => [`Q${n}`, ["I", "II", "III", "IV"][n - 1], [3 * n - 2, 3 * n]]),
  semester: [1, 2].map((n) => [`S${n}`, String(n), [6 * n - 5, 6 * n]]),
  month: Array.from({ length: 12 }, (_, i) => [String(i + 1).padStart(2, "0"), String(i + 1).padStart(2, "0"), [i + 1, i + 1]]),
  year: [["", "—", [1, 12]]],
};

/** The plan's period label (`2026-Q1`) and its days, as the results route takes them. */
export function periodOf(kind, year, part) {
  const [code, , [from, to]] = PARTS[kind].find(([c]) => c === part) || PARTS[kind][0];
  const two = (n) => String(n).padStart(2, "0");
  const end = new Date(Date.UTC(Number(year), to, 0)).getUTCDate();
  return { label: code ? `${year}-${code}` : String(year), first: `${year}-${two(from)}-01`, last: `${year}-${two(to)}-${two(end)}` };
}

/** The actions of a plan written here ("U3 Waktu penyelesaian: …" lines), by element. */
export function actionsOf(plan) {
  const out = {};
  if (!plan) return out;
  for (const chunk of plan.text.split(/\n(?=U[1-9] )/)) {
    const m = /^(U[1-9]) [^:\n]*: ?([\s\S]*)$/.exec(chunk);
    if (m && plan.elements.includes(m[1])) out[m[1]] = m[2].trim();
  }
  if (!Object.keys(out).length && plan.elements.length) out[plan.elements[0]] = plan.text; // written elsewhere
  return out;
}

/** One line (or paragraph) per element, named as on the public page: `U3 Waktu penyelesaian: …`. */
export function planText(actions) {
  return actions.map(([key, title, action]) => `${key} ${title}: ${action}`).join("\n");
}
