import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** The live overview from the metrics. */
export function Overview(_: PageProps): JSX.Element {
  return <Placeholder what="The live overview from the metrics" />;
}
