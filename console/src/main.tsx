// The web console's entry point (bundled by scripts/build-console.mjs).
import { render } from "preact";
import { App } from "./app.js";

const root = document.getElementById("app");
if (root === null) throw new Error("the console's index.html has no #app element");
root.replaceChildren();
render(<App />, root);
