// playwright-core's declarations name four DOM types (for element handles
// and selectors, which the browser tests do not use) that @types/node does
// not declare; these stand-ins let the compiler check library declarations
// too (no skipLibCheck) without the whole DOM lib in server code's scope.
interface Node {
  readonly nodeType: number;
}
interface HTMLElement extends Node {
  readonly tagName: string;
}
interface SVGElement extends Node {
  readonly tagName: string;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- tag name → element type; none are needed here
interface HTMLElementTagNameMap {}
