/** The push client (the seed's ZPNs). */
export class ZPNs {}
