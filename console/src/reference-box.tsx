// A text box to open any reference: a prefix (ending in "/", or a bare
// container) is listed, anything else is opened as an object when it
// exists and listed as a prefix when it does not.
import { useState } from "preact/hooks";
import { navigate } from "./hash-route.js";
import { asPrefix, parentPrefix } from "./references.js";
import type { Session } from "./session.js";

export function ReferenceBox({ session, onError }: { session: Session; onError: (error: unknown) => void }) {
  const [text, setText] = useState("");
  const open = async (reference: string) => {
    if (reference.endsWith("/") || parentPrefix(reference) === undefined) {
      navigate({ view: "browse", reference: asPrefix(reference) });
      return;
    }
    const info = await session.client.head(reference);
    navigate(info === undefined ? { view: "browse", reference: asPrefix(reference) } : { view: "object", reference: info.reference });
  };
  return (
    <form
      class="reference-box"
      role="search"
      onSubmit={(e) => {
        e.preventDefault();
        const reference = text.trim();
        if (reference !== "") open(reference).catch(onError);
      }}
    >
      <label for="reference">Open reference</label>
      <input
        id="reference"
        type="text"
        placeholder="mem://bucket/prefix/"
        spellcheck={false}
        value={text}
        onInput={(e) => setText(e.currentTarget.value)}
      />
      <button type="submit">Open</button>
    </form>
  );
}
