import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Resources. */
export function Resources(_: PageProps): JSX.Element {
  return <Placeholder what="Resources" />;
}
