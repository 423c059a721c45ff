// How a call is said in Bahasa Indonesia, as a list of words. Pure: no DOM, no
// audio. Each word is the key of a clip in a voice pack (static/voice/*/manifest.json):
// phrases ("nomor antrean"), number words ("dua", "belas", "seratus"), letters
// ("A".."Z"). Joined with spaces, the same words are the text for the browser's
// own voice and for the ARIA live region.

const DIGITS = ["nol", "satu", "dua", "tiga", "empat", "lima", "enam", "tujuh", "delapan", "sembilan"];

/** The words of a whole number 0…999 999 ("dua puluh satu", "seratus sebelas"). */
export function numberWords(n) {
  if (!Number.isInteger(n) || n < 0 || n > 999_999) throw new RangeError(`cannot say ${n}`);
  if (n === 0) return ["nol"];
  const words = [];
  const say = (k, unit, one) => {
    // "se-" makes the one of each unit: sepuluh, seratus, seribu
    if (k === 1) words.push(one);
    else words.push(...below1000(k), unit);
  };
  const below1000 = (m) => {
    const out = [];
    const hundreds = Math.floor(m / 100);
    const rest = m % 100;
    if (hundreds === 1) out.push("seratus");
    else if (hundreds > 1) out.push(DIGITS[hundreds], "ratus");
    if (rest === 0) return out;
    if (rest < 10) out.push(DIGITS[rest]);
    else if (rest === 10) out.push("sepuluh");
    else if (rest === 11) out.push("sebelas");
    else if (rest < 20) out.push(DIGITS[rest - 10], "belas");
    else {
      out.push(DIGITS[Math.floor(rest / 10)], "puluh");
      if (rest % 10) out.push(DIGITS[rest % 10]);
    }
    return out;
  };
  const thousands = Math.floor(n / 1000);
  if (thousands) say(thousands, "ribu", "seribu");
  words.push(...below1000(n % 1000));
  return words;
}

/** The words of a digit string read digit by digit ("007" -> nol nol tujuh). */
export function digitWords(digits) {
  return Array.from(digits, (d) => DIGITS[Number(d)]);
}

/**
 * A ticket number ("A001", "AB-12") as words: each letter by name, each run of
 * digits digit by digit (`read` "digits") or as one number ("number"). Anything
 * else (a dash, a space) is silent.
 */
export function ticketWords(number, read = "digits") {
  const words = [];
  for (const [run] of String(number).toUpperCase().matchAll(/[A-Z]|[0-9]+/g)) {
    if (/[A-Z]/.test(run)) words.push(run);
    else if (read === "number" && run.length <= 6) words.push(...numberWords(Number(run)));
    else words.push(...digitWords(run));
  }
  return words;
}

/**
 * The words of a counter's name, after "loket": its number said as a number
 * ("Loket 10" -> sepuluh), else its id's letters and digits ("L-B" -> L B).
 */
export function counterWords(name, id) {
  const match = /(\d+)\s*$/.exec(String(name || "")) || /(\d+)\s*$/.exec(String(id || ""));
  if (match && match[1].length <= 6) return numberWords(Number(match[1]));
  return ticketWords(id || name || "", "digits");
}

/** The whole call: "nomor antrean A nol nol satu silakan menuju loket tiga". */
export function callWords(number, counterName, counterId, read = "digits") {
  return ["nomor antrean", ...ticketWords(number, read), "silakan menuju", "loket", ...counterWords(counterName, counterId)];
}

/** Words as a sentence for a speech engine or a screen reader. */
export function sentence(words) {
  return words.join(" ").replace(" silakan", ", silakan");
}
