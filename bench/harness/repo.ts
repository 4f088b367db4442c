// The repository root, for spawning children and finding node_modules.
export { REPO_ROOT as REPO } from "../../test/helpers/repo-root.js";
