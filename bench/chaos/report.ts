import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CheckStats } from './checker.ts'
import type { FaultRecord } from './faults.ts'
import type { History, Violation } from './history.ts'
import type { LogLine } from './topology.ts'

/** What a run was asked to do, printed first and last so a failure can be run again. */
export interface RunMeta {
  seed: number
  command: string
  startedAt: number
  endedAt: number
}

const seconds = (ms: number, t0: number) => `${((ms - t0) / 1000).toFixed(1)}s`

/** The fault under way at `at`, or the last one that ended within 10 s before it. */
function faultNear(faults: readonly FaultRecord[], at: number | undefined): FaultRecord | undefined {
  if (at === undefined) return undefined
  const during = faults.find((f) => f.start <= at && (f.end ?? Number.POSITIVE_INFINITY) >= at)
  if (during) return during
  return faults.filter((f) => f.end !== null && f.end < at && at - f.end <= 10_000).at(-1)
}

function describeFault(f: FaultRecord, t0: number): string {
  return `#${f.n} ${f.kind}${f.instance === undefined ? '' : ` on instance ${f.instance}`} (${seconds(f.start, t0)}–${f.end === null ? '?' : seconds(f.end, t0)}: ${f.detail})`
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1
  return counts
}

/** The violation, when it happened relative to the run, and the fault it fell in or after. */
function describeViolation(v: Violation, faults: readonly FaultRecord[], t0: number): string {
  const fault = faultNear(faults, v.at)
  const when = v.at === undefined ? '' : ` at ${seconds(v.at, t0)}`
  const context = fault ? `; ${fault.start <= (v.at ?? 0) && (fault.end ?? Infinity) >= (v.at ?? 0) ? 'during' : 'after'} fault ${describeFault(fault, t0)}` : ''
  return `${v.kind}${when}: ${v.detail}${v.conn ? ` [${v.conn} on instance ${v.instance}]` : ''}${context}`
}

/** Prints the run's summary; violations are listed by kind with the first few of each. */
export function printSummary(meta: RunMeta, counts: Record<string, number>, stats: CheckStats, faults: readonly FaultRecord[], violations: readonly Violation[]): void {
  const t0 = meta.startedAt
  console.log('')
  console.log(`chaos summary (seed ${meta.seed})`)
  console.log(`  duration        ${((meta.endedAt - meta.startedAt) / 1000).toFixed(1)} s`)
  console.log(`  faults          ${faults.length}: ${JSON.stringify(countBy(faults, (f) => f.kind))}`)
  console.log(`  messages        sent ${counts.sends} (REST ${counts.restSends}), attempts ${counts.attempts}, acknowledged ${stats.acks}, stored ${stats.stored}`)
  console.log(`  changes         ${counts.changes ?? 0} (edits ${counts.edit ?? 0}, unsends ${counts.unsend ?? 0}, reactions added ${counts.react ?? 0}, taken back ${counts.unreact ?? 0}; REST ${counts.restChanges ?? 0})`)
  console.log(`  checked         ${stats.framesChecked} frames over ${stats.connections} connections; ${stats.copies} copies of ${stats.copiedMessages} messages against the server's`)
  console.log(`  page loads      ${counts.pageLoads ?? 0} (rooms read again after a truncated replay ${counts.resyncs ?? 0})`)
  console.log(
    `  reconnects      ${counts.reconnects} (failed handshakes ${counts.failedHandshakes}, store/unavailable errors ${counts.storeErrors}, ack timeouts ${counts.ackTimeouts}, failed replays ${counts.replayFailures ?? 0})`,
  )
  const byKind = countBy(violations, (v) => v.kind)
  console.log(`  violations      ${violations.length}${violations.length ? `: ${JSON.stringify(byKind)}` : ''}`)
  for (const kind of Object.keys(byKind)) {
    const some = violations.filter((v) => v.kind === kind)
    for (const v of some.slice(0, 4)) console.log(`    - ${describeViolation(v, faults, t0)}`)
    if (some.length > 4) console.log(`    … and ${some.length - 4} more ${kind}`)
  }
  console.log(`  rerun with      ${meta.command}`)
}

/**
 * Writes the failing history: the violations (each with the fault it fell in or after and the
 * instance log lines around it), the fault timeline, every connection's frames, the acks, what
 * was stored, presence, every instance's log, and history.json (re-checkable with --check).
 */
export function writeFailure(dir: string, meta: RunMeta, counts: Record<string, number>, history: History, violations: readonly Violation[], faults: readonly FaultRecord[], logs: readonly LogLine[]): void {
  mkdirSync(dir, { recursive: true })
  const t0 = meta.startedAt
  const report: string[] = [`seed ${meta.seed}: ${violations.length} violations`, `rerun: ${meta.command}`, '']
  for (const v of violations) {
    report.push(describeViolation(v, faults, t0))
    if (v.at !== undefined) {
      const near = logs.filter((l) => l.at >= v.at! - 3000 && l.at <= v.at! + 2000)
      const relevant = near.filter((l) => !/"level":"(debug|info)"/.test(l.line) || (v.room !== undefined && l.line.includes(`"room":${v.room}`)))
      for (const l of relevant.slice(0, 40)) report.push(`    [instance ${l.instance} ${seconds(l.at, t0)}] ${l.line}`)
      if (relevant.length > 40) report.push(`    … ${relevant.length - 40} more lines (instance-N.log)`)
    }
    report.push('')
  }
  writeFileSync(join(dir, 'violations.txt'), report.join('\n'))
  writeFileSync(join(dir, 'faults.txt'), `${faults.map((f) => describeFault(f, t0)).join('\n')}\n`)
  writeFileSync(join(dir, 'clients.jsonl'), `${history.connections.map((c) => JSON.stringify(c)).join('\n')}\n`)
  writeFileSync(join(dir, 'history.json'), JSON.stringify({ meta, counts, faults, history }))
  const instances = new Set(logs.map((l) => l.instance))
  for (const instance of instances) {
    writeFileSync(
      join(dir, `instance-${instance}.log`),
      `${logs
        .filter((l) => l.instance === instance)
        .map((l) => `${seconds(l.at, t0)} ${l.line}`)
        .join('\n')}\n`,
    )
  }
}
