// The widget's events: from one element, or engine-wide.

// -------------------------------------------------------------------- events

// Every <crossfind-search> connected to the page.
export const elements = new Set();

export function emit(name, detail, target = null) {
  const init = { detail, bubbles: true, composed: true };
  if (target) return target.dispatchEvent(new CustomEvent(name, { ...init, cancelable: name === 'result-click' }));
  return document.dispatchEvent(new CustomEvent(name, init));
}

// Engine-wide news: to every widget (not bubbling) and once to the document.
export function broadcast(name, detail) {
  for (const el of elements) el.dispatchEvent(new CustomEvent(name, { detail }));
  document.dispatchEvent(new CustomEvent(name, { detail }));
}
