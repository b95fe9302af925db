// WCAG 2 contrast for the operator's BRAND_COLOR: the button text on it must read at 4.5:1 (AA for
// normal-size text), so configuration refuses a colour where neither white nor near-black does.

/** The two text colours a primary button can have. */
export const LIGHT_TEXT = '#ffffff';
export const DARK_TEXT = '#0b0d12';
/** WCAG 2 AA for normal-size text. */
export const MIN_CONTRAST = 4.5;

/** WCAG 2 relative luminance of a #rrggbb colour. */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

/** WCAG 2 contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

/** The text colour that contrasts more with `background`, and by how much. */
export function buttonText(background: string): { color: string; ratio: number } {
  const light = contrastRatio(background, LIGHT_TEXT);
  const dark = contrastRatio(background, DARK_TEXT);
  return light >= dark ? { color: LIGHT_TEXT, ratio: light } : { color: DARK_TEXT, ratio: dark };
}

/** WCAG 2.1 1.4.11: a control's boundary against what surrounds it. */
export const MIN_NON_TEXT_CONTRAST = 3;

/** The card a button sits on, and the border colour of ordinary controls, per colour scheme (views/static/app.css). */
export const SCHEMES = {
  light: { card: '#ffffff', control: '#7d8594' },
  dark: { card: '#1b1e24', control: '#6b7383' },
} as const;
