import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Delivery trace. */
export function Trace(_: PageProps): JSX.Element {
  return <Placeholder what="Delivery trace" />;
}
