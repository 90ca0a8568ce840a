// The <crossfind-search> element: the button, the search dialog, results,
// the filter bar and status.

import { direction } from '../strings.mjs';
import { parseFilter, normalizeFilter, isFiltering, copyFilter, valuesOf, setValues } from '../filters.mjs';
import { BASE } from './base.js';
import { elements, emit } from './events.js';
import { primary, UI_LANG, reconfigureStrings, t, langName, listOf, fmtNumber } from './i18n.js';
import { client, messageFor, searchLang, K } from './client.js';
import { wantOffline, maybeStartOffline } from './offline.js';
import { h, searchIcon, highlighted, deepActiveElement, safeHref, warnRefused, passageLink } from './dom.js';

// ---------------------------------------------------------------- the widget

const DEBOUNCE_MS = 60;

let instances = 0;

export class CrossfindSearch extends HTMLElement {
  constructor() {
    super();
    this._n = ++instances;
    this._hits = []; // shown, in order
    this._items = []; // the options: each hit's, then its sections'
    this._entries = []; // per option: {hit, hitIndex, url, section?}
    this._active = -1;
    this._query = '';
    this._shownQuery = '';
    this._shownSemantic = false;
    this._timer = 0;
    this._opener = null;
    this._unsub = [];
    this._optSeq = 0;
    this._filter = {}; // the active filter, {key: [values]} (the filter attribute, then the reader's choices)
    this._filterShown = ''; // what the filter bar was built from
  }

  // The active filter: a copy; setting it (an object {key: value | [values]}
  // or the attribute's "key:value, …") re-runs the shown query.
  get filter() {
    return copyFilter(this._filter);
  }

  set filter(value) {
    this._setFilter(normalizeFilter(value));
  }

  connectedCallback() {
    elements.add(this);
    if (!this.shadowRoot) this._build();
    client.start();
    const sem = (this.getAttribute('semantic') || '').toLowerCase();
    if (sem === 'eager') client.loadSemantic();
    else if (sem === 'off' && !client.semanticAsked) {
      client.semanticOff = true;
      client.status.semantic = 'off';
      client.semanticReady.reject(Object.assign(new Error('semantic search is turned off (semantic="off")'), { code: 'off' }));
    }
    if (this.hasAttribute('offline')) wantOffline(this.getAttribute('offline'), this.getAttribute('offline-worker'), this.getAttribute('offline-pages'), this.getAttribute('offline-start'));
    if (this.hasAttribute('strings')) reconfigureStrings();
    const on = (name, fn) => {
      this.addEventListener(name, fn);
      this._unsub.push(() => this.removeEventListener(name, fn));
    };
    on('ready', () => {
      this._showFilters();
      this._onEngine();
    });
    on('fragments-ready', () => this._refresh(false));
    on('model-progress', () => this._showProgress());
    on('semantic-ready', () => {
      this._showProgress();
      if (this._dialog.open) {
        this._announce(t('semanticReady'));
        this._refresh(true);
      }
    });
    on('search-error', (ev) => {
      this._showNotice(ev.detail);
      this._showProgress();
    });
    this._replayStatus();
  }

  static get observedAttributes() {
    return ['strings', 'filter'];
  }

  // Site strings set or changed later (a single-page app switching language);
  // the default filter, set or changed (a page showing another version).
  attributeChangedCallback(name, before, after) {
    if (name === 'strings' && before !== after && this.isConnected) reconfigureStrings();
    if (name === 'filter' && before !== after) {
      const { filter, problems } = parseFilter(after);
      for (const p of problems) console.warn(`crossfind: filter attribute: ${p}`);
      this._setFilter(filter);
    }
  }

  disconnectedCallback() {
    elements.delete(this);
    if (this.hasAttribute('strings')) reconfigureStrings();
    for (const u of this._unsub) u();
    this._unsub = [];
  }

  _build() {
    const root = this.attachShadow({ mode: 'open' });
    const id = (s) => `cf${this._n}-${s}`;
    this._ids = { input: id('input'), list: id('list'), title: id('title'), hint: id('hint'), progress: id('progress') };

    this._trigger = h('button', { type: 'button', class: 'cf-trigger', 'aria-haspopup': 'dialog', 'aria-keyshortcuts': 'Control+K Meta+K /', part: 'button' });
    this._triggerLabel = h('span', { class: 'cf-trigger-label' });
    this._kbd = h('kbd', { class: 'cf-kbd', 'aria-hidden': 'true', text: /Mac|iPhone|iPad/.test(navigator.platform || '') ? '⌘K' : 'Ctrl K' });
    this._trigger.append(searchIcon(), this._triggerLabel, this._kbd);

    this._title = h('h2', { id: this._ids.title, class: 'cf-vh' });
    this._label = h('label', { for: this._ids.input, class: 'cf-vh' });
    this._input = h('input', {
      id: this._ids.input,
      type: 'text',
      role: 'combobox',
      'aria-autocomplete': 'list',
      'aria-expanded': 'false',
      'aria-controls': this._ids.list,
      'aria-describedby': this._ids.hint,
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      enterkeyhint: 'search',
      class: 'cf-input',
    });
    this._close = h('button', { type: 'button', class: 'cf-close' });
    // One group of checkboxes per filter key the site declares (_showFilters).
    this._filters = h('div', { role: 'group', class: 'cf-filters', hidden: true });
    this._notice = h('p', { class: 'cf-notice', role: 'alert', hidden: true });
    this._progressLabel = h('span', { id: this._ids.progress, class: 'cf-progress-label' });
    this._progressBar = h('progress', { class: 'cf-progress-bar', 'aria-labelledby': this._ids.progress });
    this._progress = h('div', { class: 'cf-progress', hidden: true }, this._progressLabel, this._progressBar);
    this._list = h('ul', { id: this._ids.list, role: 'listbox', class: 'cf-list', hidden: true });
    this._empty = h('p', { class: 'cf-empty', hidden: true });
    // "Showing results for …" when search read a misspelt word as the site's
    this._respelled = h('p', { class: 'cf-respelled', hidden: true });
    this._hint = h('p', { id: this._ids.hint, class: 'cf-hint' });
    this._live = h('div', { class: 'cf-vh', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });

    const bar = h('div', { class: 'cf-bar' }, searchIcon(), this._label, this._input, this._close);
    const panel = h('div', { class: 'cf-panel' }, this._title, bar, this._filters, this._notice, this._progress, this._respelled, this._list, this._empty, this._hint, this._live);
    this._dialog = h('dialog', { class: 'cf-dialog', 'aria-labelledby': this._ids.title, part: 'dialog' }, panel);

    root.append(h('link', { rel: 'stylesheet', href: new URL('crossfind.css', BASE).href }), this._trigger, this._dialog);
    this._applyStrings();

    this._trigger.addEventListener('click', () => this.open(this._trigger));
    this._trigger.addEventListener('pointerenter', () => client.loadSemantic(), { once: true });
    this._close.addEventListener('click', () => this.close());
    this._dialog.addEventListener('close', () => this._afterClose());
    this._dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      this.close();
    });
    // A click on the backdrop (outside the panel) closes.
    this._dialog.addEventListener('click', (e) => {
      if (e.target === this._dialog) this.close();
    });
    this._input.addEventListener('input', () => this._onInput());
    this._input.addEventListener('keydown', (e) => this._onKey(e));
    this._filters.addEventListener('change', (e) => {
      const box = e.target.closest('input[type="checkbox"]');
      if (box) this._toggleFilter(box.dataset.key, box.dataset.value, box.checked);
    });
    // Results are links: a plain click opens the result as Enter does (with
    // result-click first); a modified click (Ctrl/Cmd: new tab, Shift: new
    // window) and a middle click are the browser's, after a cancelable
    // result-click with newTab: true.
    this._list.addEventListener('click', (e) => {
      const li = e.target.closest('[role="option"]');
      if (!li) return;
      const i = this._items.indexOf(li);
      if (e.ctrlKey || e.metaKey || e.shiftKey) {
        if (!this._linkClicked(i)) e.preventDefault();
        this._input.focus();
        return;
      }
      e.preventDefault();
      this._choose(i);
    });
    this._list.addEventListener('auxclick', (e) => {
      const li = e.button === 1 && e.target.closest('[role="option"]');
      if (!li) return;
      if (!this._linkClicked(this._items.indexOf(li))) e.preventDefault();
      this._input.focus();
    });
    this._list.addEventListener('mousemove', (e) => {
      const li = e.target.closest('[role="option"]');
      const i = li ? this._items.indexOf(li) : -1;
      if (i >= 0 && i !== this._active) this._setActive(i, false);
    });
  }

  _applyStrings() {
    const dir = direction(UI_LANG);
    this._dialog.setAttribute('lang', UI_LANG);
    this._dialog.setAttribute('dir', dir);
    this._trigger.setAttribute('lang', UI_LANG);
    this._trigger.setAttribute('dir', dir);
    this._triggerLabel.textContent = t('button');
    this._title.textContent = t('dialogTitle');
    this._label.textContent = t('inputLabel');
    this._input.setAttribute('placeholder', t('placeholder'));
    this._close.textContent = t('close');
    this._list.setAttribute('aria-label', t('resultsLabel'));
    this._hint.textContent = t('hint');
    this._filterShown = '';
    this._showFilters();
    this._showProgress();
    const last = client.status.problems[client.status.problems.length - 1];
    if (last) this._showNotice(last);
  }

  _replayStatus() {
    const last = client.status.problems[client.status.problems.length - 1];
    if (last) this._showNotice(last);
    this._showFilters();
    this._showProgress();
  }

  // -------------------------------------------------------------- filters

  _setFilter(filter) {
    const before = JSON.stringify(this._filter);
    this._filter = filter;
    if (JSON.stringify(filter) === before) return;
    this._showFilters();
    this._rerun();
  }

  // The reader ticked or unticked one value.
  _toggleFilter(key, value, on) {
    const f = copyFilter(this._filter);
    const values = valuesOf(f, key).filter((v) => v !== value);
    if (on) values.push(value);
    setValues(f, key, values);
    this._filter = f;
    this._filterShown = JSON.stringify([client.status.filters, f, UI_LANG]);
    emit('filter-change', { filter: this.filter }, this);
    this._rerun();
  }

  // The shown query, searched again under the new filter: a new list, so
  // no option stays active.
  _rerun() {
    if (!this._dialog || !this._dialog.open) return;
    this._setActive(-1);
    this._shownQuery = '';
    const q = this._input.value;
    if (q.trim()) this._run(q, false);
  }

  // The filter bar: a group per key (its name as the legend), a checkbox
  // per value with its page count, from the engine's filters() and the
  // active filter (a default value no page declares is shown with 0, so
  // the reader can see it and untick it). Hidden when there are none.
  // Keys and values are page content: text only.
  _showFilters() {
    if (!this._filters) return;
    const declared = client.status.filters || {};
    const state = JSON.stringify([declared, this._filter, UI_LANG]);
    if (state === this._filterShown) return;
    this._filterShown = state;
    const groups = new Map();
    for (const [key, counts] of Object.entries(declared)) groups.set(key, new Map(Object.entries(counts)));
    for (const [key, values] of Object.entries(this._filter)) {
      if (!groups.has(key)) groups.set(key, new Map());
      for (const v of values) if (!groups.get(key).has(v)) groups.get(key).set(v, 0);
    }
    const focused = this.shadowRoot.activeElement;
    const refocus = focused && this._filters.contains(focused) ? [focused.dataset.key, focused.dataset.value] : null;
    this._filters.replaceChildren();
    this._filters.hidden = groups.size === 0;
    this._filters.setAttribute('aria-label', t('filtersLabel'));
    let n = 0;
    for (const [key, values] of groups) {
      const set = h('fieldset', { class: 'cf-filter-group' }, h('legend', { class: 'cf-filter-key', dir: 'auto', text: key }));
      for (const [value, pages] of values) {
        const id = `cf${this._n}-filter-${++n}`;
        const box = h('input', { type: 'checkbox', id, class: 'cf-filter-box' });
        box.dataset.key = key;
        box.dataset.value = value;
        box.checked = valuesOf(this._filter, key).includes(value);
        const label = h(
          'label',
          { for: id, class: 'cf-filter' },
          box,
          h('span', { class: 'cf-filter-value', dir: 'auto', text: value }),
          h('span', { class: 'cf-filter-count', 'aria-hidden': 'true', text: fmtNumber(pages, 0) }),
          h('span', { class: 'cf-vh', text: ` (${t('filterPages', { n: pages })})` }),
        );
        set.append(label);
        if (refocus && refocus[0] === key && refocus[1] === value) queueMicrotask(() => box.focus());
      }
      this._filters.append(set);
    }
  }

  // ------------------------------------------------------------ open / close

  open(opener) {
    if (this._dialog.open) return;
    this._opener = opener || deepActiveElement() || null;
    client.loadSemantic();
    this._showProgress();
    this._dialog.showModal();
    this._input.focus();
    this._input.select();
    if (this._input.value.trim()) this._refresh(false);
  }

  close() {
    if (this._dialog.open) this._dialog.close();
  }

  _afterClose() {
    this._setActive(-1);
    const back = this._opener && this._opener.isConnected ? this._opener : this._trigger;
    this._opener = null;
    back.focus();
  }

  // ----------------------------------------------------------------- search

  _onEngine() {
    if (this._dialog.open && this._input.value.trim()) this._refresh(false);
  }

  _onInput() {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => this._run(this._input.value, false), DEBOUNCE_MS);
  }

  // Re-runs the shown query (new snippets, semantic matches) keeping the active option.
  _refresh(announce) {
    if (!this._dialog.open) return;
    const q = this._input.value;
    if (q.trim()) this._run(q, true, announce);
  }

  async _run(query, isUpdate, announceMerge = false) {
    const q = query.trim();
    this._query = q;
    if (!q) {
      this._render([], false, q);
      this._empty.hidden = true;
      this._respelled.hidden = true;
      this._live.textContent = '';
      return;
    }
    const lang = searchLang();
    const filter = this.filter;
    emit('search', { query: q, lang, filter }, this);
    maybeStartOffline(false); // the reader searched: the offline copy may start
    const onUpdate = (m) => {
      if (this._query !== q || m.superseded) return;
      this._render(m.hits || [], isUpdate || this._shownQuery === q, q, m.semantic);
      this._respelled.textContent = m.respelled ? t('respelled', { q: m.respelled }) : '';
      this._respelled.hidden = !m.respelled;
      if (!m.final) return;
      const n = this._hits.length;
      if (m.error === 'unavailable' || m.error === 'not_ready') {
        this._announce(t('errorUnavailableShort'));
        return;
      }
      const wasSemantic = this._shownSemantic;
      this._shownSemantic = !!m.semantic;
      if (n === 0) {
        this._empty.textContent = t('noResults', { q });
        this._empty.hidden = false;
        this._announce(t('noResults', { q }));
        emit('zero-results', { query: q, lang, queryLang: m.queryLang ?? null, lowConfidence: m.lowConfidence ?? null, confidence: m.confidence ?? null, respelled: m.respelled ?? null, semantic: !!m.semantic, filter }, this);
      } else {
        this._empty.hidden = true;
        const count = t('results', { n });
        const merged = (announceMerge || (isUpdate && !wasSemantic)) && m.semantic;
        const said = merged ? t('semanticMerged', { count }) : count;
        this._announce(m.respelled ? `${t('respelled', { q: m.respelled })}. ${said}` : said);
      }
      emit('results', { query: q, lang, queryLang: m.queryLang ?? null, lowConfidence: m.lowConfidence ?? null, confidence: m.confidence ?? null, respelled: m.respelled ?? null, results: this._hits.slice(), semantic: !!m.semantic, filter }, this);
    };
    if (client.status.lexical === 'loading') {
      this._announce(t('loading'));
      this._empty.textContent = t('loading');
      this._empty.hidden = false;
    }
    await client.query(q, { lang, k: K, filter: isFiltering(filter) ? filter : {}, latest: true }, onUpdate);
  }

  // Shows `hits`, each page followed by its other matching sections
  // (hit.sections) as options of their own. When they update the list
  // already shown for the same query and the reader has an active option,
  // every result up to and including the active one stays where it is; only
  // what is below changes. this._entries[i] describes this._items[i].
  _render(hits, sameQuery, q, semantic) {
    const active = sameQuery && this._active >= 0 ? this._entries[this._active] : null;
    const keepHits = active ? active.hitIndex + 1 : 0;
    const keep = keepHits ? this._entries.findLastIndex((e) => e.hitIndex < keepHits) + 1 : 0;
    const kept = this._hits.slice(0, keepHits);
    const keptIds = new Set(kept.map((x) => x.pageId));
    const rest = hits.filter((x) => !keptIds.has(x.pageId));
    for (const opt of this._items.slice(keep)) opt.parentElement.remove();
    this._items = this._items.slice(0, keep);
    this._entries = this._entries.slice(0, keep);
    this._hits = kept.concat(rest).slice(0, Math.max(K, keepHits));
    this._hits.slice(keepHits).forEach((hit, j) => {
      const hitIndex = keepHits + j;
      this._addEntry(this._option(hit, hit, this._items.length), 'cf-item', { hit, hitIndex, url: hit.url });
      for (const sec of Array.isArray(hit.sections) ? hit.sections : []) {
        this._addEntry(this._option(hit, sec, this._items.length), 'cf-item cf-sub', { hit, hitIndex, url: sec.url, section: sec });
      }
    });
    this._shownQuery = q;
    if (keep === 0) this._setActive(-1);
    const any = this._hits.length > 0;
    this._list.hidden = !any;
    this._input.setAttribute('aria-expanded', String(any));
    if (any) this._empty.hidden = true;
    this._list.classList.toggle('cf-semantic', !!semantic);
  }

  _addEntry(opt, cls, entry) {
    this._items.push(opt);
    this._entries.push(entry);
    this._list.append(h('li', { role: 'none', class: cls }, opt));
  }

  // One result: a real link (<a href>) that is the listbox's option, out of
  // the tab order (the combobox keeps focus, arrows move the active option),
  // in an <li role="none">. A result whose URL is not a page of this site
  // gets no href and is disabled.
  // `part` is the hit itself, or one of its sections (a sub-result: its
  // heading and snippet, beneath the page's title, which screen readers
  // hear first).
  _option(hit, part, i) {
    const sub = part !== hit;
    const href = safeHref(passageLink(part.url, part.snippet));
    if (!href) warnRefused(part.url);
    const link = h('a', {
      role: 'option',
      id: `cf${this._n}-opt-${++this._optSeq}`,
      'aria-selected': 'false',
      'aria-disabled': href ? null : 'true',
      href,
      tabindex: href ? '-1' : null,
      class: href ? 'cf-option' : 'cf-option cf-inert',
    });
    link.dataset.index = String(i);
    link.dataset.url = part.url;
    const lang = primary(hit.lang);
    if (sub) {
      link.classList.add('cf-sub-option');
      link.append(h('span', { class: 'cf-vh', lang, dir: 'auto', text: `${hit.title || hit.url}: ` }));
    } else {
      const title = h('span', { class: 'cf-title', lang, dir: 'auto', text: hit.title || hit.url });
      const badge = h('span', { class: 'cf-badge', lang: UI_LANG, title: langName(lang) }, h('span', { 'aria-hidden': 'true', text: lang.toUpperCase() }), h('span', { class: 'cf-vh', text: ` (${langName(lang)})` }));
      link.append(h('span', { class: 'cf-head' }, title, badge));
    }
    if (part.heading) link.append(h('span', { class: 'cf-section', lang, dir: 'auto', text: part.heading }));
    if (part.snippet) {
      const p = h('span', { class: 'cf-snippet', lang, dir: 'auto' });
      p.append(highlighted(part.snippet, part.highlights));
      link.append(p);
    }
    if (sub) return link;
    const also = (hit.alsoIn || []).filter((l) => l !== hit.lang);
    if (also.length) {
      link.append(h('span', { class: 'cf-also', lang: UI_LANG, text: `${t('alsoIn')} ${listOf(also.map(langName))}` }));
    }
    if (hit.matchedLang && hit.matchedLang !== hit.lang) {
      link.append(h('span', { class: 'cf-also', lang: UI_LANG, text: t('matchedIn', { lang: langName(hit.matchedLang) }) }));
    }
    return link;
  }

  _setActive(i, scroll = true) {
    const prev = this._items[this._active];
    if (prev) prev.setAttribute('aria-selected', 'false');
    this._active = i >= 0 && i < this._items.length ? i : -1;
    const li = this._items[this._active];
    if (li) {
      li.setAttribute('aria-selected', 'true');
      this._input.setAttribute('aria-activedescendant', li.id);
      if (scroll) li.scrollIntoView({ block: 'nearest' });
    } else {
      this._input.removeAttribute('aria-activedescendant');
    }
  }

  _onKey(e) {
    if (e.isComposing) return;
    const n = this._items.length;
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (n) this._setActive(this._active < 0 ? 0 : (this._active + 1) % n);
        break;
      case 'ArrowUp':
        e.preventDefault();
        if (n) this._setActive(this._active <= 0 ? n - 1 : this._active - 1);
        break;
      case 'Enter':
        if (n) {
          e.preventDefault();
          this._choose(this._active >= 0 ? this._active : 0);
        }
        break;
      case 'Escape':
        e.preventDefault();
        this.close();
        break;
    }
  }

  // Opens result i in this tab (Enter, a plain click): only a page of this
  // site (safeHref), and only when no result-click listener cancels.
  _choose(i) {
    const entry = this._entries[i];
    if (!entry) return;
    const href = safeHref(passageLink(entry.url, (entry.section || entry.hit).snippet));
    if (!href) {
      warnRefused(entry.url);
      return;
    }
    const ok = emit('result-click', this._clickDetail(entry, href, false), this);
    if (!ok) return;
    this._opener = null;
    this._dialog.close();
    location.assign(href);
  }

  // A modified or middle click on result i, which the browser opens from the
  // link itself; false when a result-click listener cancels it.
  _linkClicked(i) {
    const entry = this._entries[i];
    const href = entry && safeHref(passageLink(entry.url, (entry.section || entry.hit).snippet));
    if (!href) return false;
    return emit('result-click', this._clickDetail(entry, href, true), this);
  }

  // result-click's detail: `index` is the page's rank (0-based) and
  // `section` the sub-result chosen, if it was one.
  _clickDetail(entry, href, newTab) {
    return { query: this._query, result: entry.hit, index: entry.hitIndex, section: entry.section || null, href, newTab };
  }

  // ---------------------------------------------------------------- status

  _announce(text) {
    // Cleared first, so the same words are announced again.
    this._live.textContent = '';
    clearTimeout(this._liveTimer);
    this._liveTimer = setTimeout(() => {
      this._live.textContent = text;
    }, 50);
  }

  _showNotice(p) {
    if (!this._notice) return;
    this._notice.textContent = messageFor(p);
    this._notice.hidden = false;
    this._notice.dataset.code = p.code;
    this._notice.classList.toggle('cf-fatal', !!p.fatal);
  }

  _showProgress() {
    if (!this._progress) return;
    const s = client.status;
    const busy = s.semantic === 'loading' || s.semantic === 'building';
    this._progress.hidden = !busy;
    if (!busy) return;
    if (s.semantic === 'building' || !s.total) {
      this._progressBar.removeAttribute('value');
      this._progressLabel.textContent = s.semantic === 'building' ? t('modelBuilding') : t('modelStarting');
      return;
    }
    this._progressBar.max = s.total;
    this._progressBar.value = s.loaded;
    this._progressLabel.textContent = t('modelLoading', { loaded: fmtNumber(s.loaded / 1e6), total: fmtNumber(s.total / 1e6) });
  }
}
