import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Users and devices. */
export function Users(_: PageProps): JSX.Element {
  return <Placeholder what="Users and devices" />;
}
