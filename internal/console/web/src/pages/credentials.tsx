import type { JSX } from "preact";
import type { PageProps } from "../api";
import { Placeholder } from "../ui";

/** Push credentials. */
export function Credentials(_: PageProps): JSX.Element {
  return <Placeholder what="Push credentials" />;
}
