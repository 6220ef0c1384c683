// Top reasons, namespaces and kinds with counts; choosing one filters by it.
import type { Facets } from './api.ts';

const groups = [
  { key: 'reasons', title: 'Top reasons', filter: 'reason' },
  { key: 'namespaces', title: 'Namespaces', filter: 'namespace' },
  { key: 'kinds', title: 'Kinds', filter: 'kind' },
] as const;

/** Renders the facet lists into `box`; `onPick(filter, value)` when one is chosen. */
export function renderFacets(box: HTMLElement, facets: Facets, onPick: (filter: string, value: string) => void): void {
  const sections = groups.map(({ key, title, filter }) => {
    const section = document.createElement('section');
    const heading = document.createElement('h2');
    heading.textContent = title;
    const list = document.createElement('ul');
    list.dataset.facet = filter;
    for (const { value, count } of facets[key]) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.title = `Filter by ${filter} ${value}`;
      const label = document.createElement('span');
      label.textContent = value;
      const n = document.createElement('span');
      n.className = 'n';
      n.textContent = count.toLocaleString('en');
      button.append(label, n);
      button.addEventListener('click', () => onPick(filter, value));
      item.append(button);
      list.append(item);
    }
    section.append(heading, list);
    return section;
  });
  box.replaceChildren(...sections);
}
