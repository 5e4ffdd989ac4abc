/** IP addresses and CIDR ranges, for TRUSTED_PROXIES. IPv4-mapped IPv6 addresses match IPv4 ranges. */

export interface Cidr {
  family: 4 | 6
  /** The network address as a 32- or 128-bit number. */
  network: bigint
  prefix: number
}

function parseIPv4(text: string): bigint | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  let value = 0n
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return null
    value = (value << 8n) | BigInt(part)
  }
  return value
}

function parseIPv6(text: string): bigint | null {
  const zone = text.indexOf('%')
  if (zone !== -1) text = text.slice(0, zone)
  let tail: bigint | null = null
  const lastColon = text.lastIndexOf(':')
  if (text.includes('.', lastColon)) {
    // Dotted IPv4 in the last 32 bits (::ffff:1.2.3.4).
    tail = parseIPv4(text.slice(lastColon + 1))
    if (tail === null) return null
    text = `${text.slice(0, lastColon + 1)}0:0`
  }
  const halves = text.split('::')
  if (halves.length > 2) return null
  const groups = (s: string) => (s === '' ? [] : s.split(':'))
  const head = groups(halves[0]!)
  const rest = halves.length === 2 ? groups(halves[1]!) : []
  const missing = 8 - head.length - rest.length
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]
  if (all.length !== 8) return null
  let value = 0n
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null
    value = (value << 16n) | BigInt(`0x${group}`)
  }
  if (tail !== null) value = (value & ~0xffffffffn) | tail
  return value
}

/** Parses an address; an IPv4-mapped IPv6 address comes back as IPv4. */
export function parseIp(text: string): { family: 4 | 6; value: bigint } | null {
  const v4 = parseIPv4(text)
  if (v4 !== null) return { family: 4, value: v4 }
  const v6 = parseIPv6(text)
  if (v6 === null) return null
  if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn }
  return { family: 6, value: v6 }
}

/** Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (a range of one). */
export function parseCidr(text: string): Cidr | null {
  const [address = '', prefixText, extra] = text.trim().split('/')
  if (extra !== undefined) return null
  const ip = parseIp(address)
  if (!ip) return null
  const bits = ip.family === 4 ? 32 : 128
  const prefix = prefixText === undefined ? bits : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN
  if (!(prefix >= 0 && prefix <= bits)) return null
  const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix)
  return { family: ip.family, network: ip.value & mask, prefix }
}

/** True when the address lies in one of the ranges. */
export function ipInRanges(address: string, ranges: readonly Cidr[]): boolean {
  const ip = parseIp(address)
  if (!ip) return false
  return ranges.some((range) => {
    if (range.family !== ip.family) return false
    const bits = range.family === 4 ? 32 : 128
    const shift = BigInt(bits - range.prefix)
    return range.prefix === 0 || ip.value >> shift === range.network >> shift
  })
}
