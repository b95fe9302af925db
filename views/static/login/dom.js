// @ts-check
// Small DOM helpers: typed element lookup and the page's two status lines.

/**
 * The element with this id, checked to be of the expected kind (the page's markup is views/login.ejs).
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T, prototype: T }} kind e.g. HTMLButtonElement
 * @returns {T}
 */
export function byId(id, kind) {
  const element = document.getElementById(id);
  if (!(element instanceof kind)) throw new Error(`login page: #${id} is missing or not the expected element`);
  return element;
}

/**
 * Shows a sentence in a status line, marked as an error or not.
 * @param {HTMLElement} element
 * @param {string} text
 * @param {boolean} [isError]
 */
export function say(element, text, isError = false) {
  element.textContent = text;
  element.classList.toggle('error', isError);
}

const statusLine = byId('status', HTMLElement);
const manualStatusLine = byId('manual-status', HTMLElement);

/** The wallet sign-in's status line (role=status). @param {string} text @param {boolean} [isError] */
export const status = (text, isError) => say(statusLine, text, isError);

/** The status line of signing elsewhere. @param {string} text @param {boolean} [isError] */
export const manualStatus = (text, isError) => say(manualStatusLine, text, isError);
