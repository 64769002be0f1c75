/** Image references, per the distribution/reference grammar Docker uses. */

const DomainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const Domain = `${DomainComponent}(?:\\.${DomainComponent})*(?::[0-9]+)?`;
const PathComponent = '[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*';
const Name = `(?:${Domain}/)?${PathComponent}(?:/${PathComponent})*`;
const Tag = '[\\w][\\w.-]{0,127}';
const Digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}';
const Reference = new RegExp(`^${Name}(?::${Tag})?(?:@${Digest})?$`);

export function isValidImageReference(image: string): boolean {
  return image.length <= 255 + 128 + 72 && Reference.test(image);
}
