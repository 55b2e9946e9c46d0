// The site's names, derived from SITE_DOMAIN: the canonical "www." name and the apex
// that redirects to it, as the design names them.

export interface SiteNames {
  /** The canonical name the site is served under, e.g. www.foobar.com. */
  canonical: string;
  /** The bare domain, e.g. foobar.com: answers with a redirect to the canonical name. */
  apex: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

/** Splits SITE_DOMAIN into its names; throws naming the variable when it is not www.<domain>. */
export function siteNames(siteDomain: string): SiteNames {
  const canonical = siteDomain.trim().toLowerCase().replace(/\.$/, '');
  const labels = canonical.split('.');
  if (labels[0] !== 'www' || labels.length < 3 || !labels.every((label) => LABEL.test(label)) || canonical.length > 253)
    throw new Error(
      `SITE_DOMAIN must be a name of the form www.<your domain> (e.g. www.foobar.com), not "${siteDomain}"`,
    );
  return { canonical, apex: labels.slice(1).join('.') };
}
