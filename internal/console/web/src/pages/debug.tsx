import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Online push debugging. */
export function Debug(_: PageProps): JSX.Element {
  return <Placeholder what="Online push debugging" />;
}
