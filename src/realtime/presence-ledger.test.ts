import { describe, expect, it } from 'bun:test'
import { encodePresenceFrame } from './codec.ts'
import { PresenceLedger, type RoomPresence } from './presence-ledger.ts'

const join = (user: string, version: number) => ({ user, version, joined: true, frame: encodePresenceFrame('chat.user.join', user, `${user}님`) })
const leave = (user: string, version: number) => ({ user, version, joined: false, frame: encodePresenceFrame('chat.user.leave', user, `${user}님`) })
const snapshot = (version: number, ...users: string[]): RoomPresence => ({ version, origin: 1, present: new Map(users.map((u) => [u, `${u}님`])) })
/** What a settling delivers, in short. */
const told = (corrections: { user: string; joined: boolean; frame: string }[]) => corrections.map((c) => `${c.joined ? 'join' : 'leave'} ${c.user} ${JSON.parse(c.frame).username}`)

describe('changes heard on the room channel', () => {
  it('should deliver a change only when it is newer and changes what the sockets were told', () => {
    const ledger = new PresenceLedger()
    expect([join('a', 1), join('a', 1), leave('a', 3), join('a', 2), join('a', 4), join('a', 5)].map((c) => ledger.heard(c))).toEqual([true, false, true, false, true, false])
  })
})

describe('settling with the presence read after the subscription was rebuilt', () => {
  it('should deliver the join missed after a leave, once, and drop its copy arriving late', () => {
    const ledger = new PresenceLedger()
    ledger.heard(join('u12', 1))
    ledger.heard(leave('u12', 2))
    // The join (3) was published while the subscription was being rebuilt: lost here.
    expect(told(ledger.settle(snapshot(3, 'u12'), 'announce'))).toEqual(['join u12 u12님'])
    expect(ledger.settle(snapshot(3, 'u12'), 'announce')).toEqual([])
    expect(ledger.heard(join('u12', 3))).toBe(false)
    expect(ledger.heard(leave('u12', 4))).toBe(true)
  })

  it('should deliver a missed leave with the nickname last heard', () => {
    const ledger = new PresenceLedger()
    ledger.heard(join('bob', 5))
    expect(told(ledger.settle(snapshot(9), 'announce'))).toEqual(['leave bob bob님'])
    expect(ledger.heard(leave('bob', 6))).toBe(false)
  })

  it('should leave alone a user heard of at a version newer than the read', () => {
    const ledger = new PresenceLedger()
    ledger.heard(join('carol', 1))
    // A leave decided after the read arrived before the read's answer.
    ledger.heard(leave('carol', 8))
    expect(ledger.settle(snapshot(7, 'carol'), 'announce')).toEqual([])
    expect(ledger.heard(join('carol', 9))).toBe(true)
  })

  it('should say nothing for a user whose state did not change, and drop the changes the read counted', () => {
    const ledger = new PresenceLedger()
    ledger.heard(join('dan', 1))
    // Leave 2 and join 3 were lost; the read says present, as the sockets were told.
    expect(ledger.settle(snapshot(3, 'dan'), 'announce')).toEqual([])
    expect([ledger.heard(leave('dan', 2)), ledger.heard(join('dan', 3))]).toEqual([false, false])
  })

  it('should not take a user Redis forgot in a restart for gone, and deliver what comes of them next', () => {
    const ledger = new PresenceLedger()
    ledger.heard(join('fay', 3))
    ledger.heard(join('gus', 4))
    // Redis restarted empty: its origin is 20; gus's instance wrote him back already (21), fay's not yet.
    expect(ledger.settle({ version: 21, origin: 20, present: new Map([['gus', 'gus님']]) }, 'announce')).toEqual([])
    expect(ledger.heard(join('gus', 21))).toBe(false)
    expect(ledger.heard(join('fay', 22))).toBe(false)
    expect(ledger.heard(leave('fay', 23))).toBe(true)
  })

  it('should announce a user present it never heard of', () => {
    const ledger = new PresenceLedger()
    expect(told(ledger.settle(snapshot(4, 'erin'), 'announce'))).toEqual(['join erin erin님'])
    expect(ledger.heard(join('erin', 4))).toBe(false)
  })
})

describe('the presence read when the watch began', () => {
  it('should note who was present without telling the sockets, and tell only what changes later', () => {
    const ledger = new PresenceLedger()
    expect(ledger.settle(snapshot(10, 'old', 'older'), 'assume')).toEqual([])
    expect(ledger.heard(join('old', 11))).toBe(false)
    // After an outage: 'older' left meanwhile, 'old' is still there.
    expect(told(ledger.settle(snapshot(14, 'old'), 'announce'))).toEqual(['leave older older님'])
  })

  it('should still deliver, once, a join the read counted but whose announcement came after it', () => {
    const ledger = new PresenceLedger()
    ledger.settle(snapshot(6, 'newcomer'), 'assume')
    expect([ledger.heard(leave('newcomer', 5)), ledger.heard(join('newcomer', 6)), ledger.heard(join('newcomer', 6))]).toEqual([false, true, false])
  })
})
