import { BlockList, isIP } from 'node:net'

/** IP ranges for TRUSTED_PROXIES, matched by node:net's BlockList (IPv4-mapped IPv6 addresses match IPv4 ranges). */

/** One range as written in a setting. */
export interface Cidr {
  address: string
  prefix: number
  family: 'ipv4' | 'ipv6'
}

const familyOf = (address: string): 'ipv4' | 'ipv6' | null => (({ 4: 'ipv4', 6: 'ipv6' }) as const)[isIP(address) as 4 | 6] ?? null

/** Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a range of one); null when invalid. */
export function parseCidr(text: string): Cidr | null {
  const [address = '', prefixText, extra] = text.trim().split('/')
  const family = familyOf(address)
  if (extra !== undefined || family === null || address.includes('%')) return null
  const bits = family === 'ipv4' ? 32 : 128
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
  if (!(prefix >= 0 && prefix <= bits)) return null
  return { address, prefix, family }
}

/** The ranges as one matcher. */
export function toRanges(cidrs: readonly Cidr[]): BlockList {
  const list = new BlockList()
  for (const { address, prefix, family } of cidrs) list.addSubnet(address, prefix, family)
  return list
}

/** True when `address` is an IP address inside the ranges. */
export function ipInRanges(address: string, ranges: BlockList): boolean {
  const family = familyOf(address)
  return family !== null && ranges.check(address, family)
}

/** True for a well-formed IPv4 or IPv6 address. */
export const isIpAddress = (text: string): boolean => familyOf(text) !== null
