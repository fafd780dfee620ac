import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Apps. */
export function Apps(_: PageProps): JSX.Element {
  return <Placeholder what="Apps" />;
}
