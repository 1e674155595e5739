// Hash routes (`#/contacts/C1`): the app serves one page at `/`, so a reload or a shared
// link never asks the server for a path it does not have.
import { useEffect, useState } from 'preact/hooks';

export function currentRoute() {
  const path = (location.hash.replace(/^#/, '') || '/').split('?')[0];
  return path.split('/').filter(Boolean).map(decodeURIComponent);
}

export function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const update = () => setRoute(currentRoute());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return route;
}

export const href = (...parts) => `#/${parts.map(encodeURIComponent).join('/')}`;

export function go(...parts) {
  location.hash = href(...parts);
}
