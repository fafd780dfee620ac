/** The push vendors, in push.Vendors' order (internal/push/capabilities.go):
 * the console's one list of them. Every page that lists vendors (the
 * credentials table, the simulated phones) takes it from here, and
 * internal/console's TestVendorsArePushVendors checks it against the
 * server's list, so a vendor added there and not here fails a test. */
const list = [
  { id: "apns", name: "APNs (Apple)" },
  { id: "fcm", name: "FCM (Google)" },
  { id: "huawei", name: "Huawei Push Kit" },
  { id: "xiaomi", name: "Xiaomi MiPush" },
  { id: "oppo", name: "OPPO PUSH" },
  { id: "vivo", name: "vivo push" },
  { id: "harmony", name: "HarmonyOS NEXT Push Kit" },
  { id: "honor", name: "Honor Push" },
  { id: "webpush", name: "Web Push (browsers)" },
] as const;

export type Vendor = (typeof list)[number]["id"];

export const vendors: { id: Vendor; name: string }[] = [...list];

/** A vendor's name as the console shows it (the ID when unknown). */
export function vendorName(v: string): string {
  return vendors.find((x) => x.id === v)?.name ?? v;
}
