import { STORES } from './support/cluster.ts'
import { describeWhatEachUserSees } from './support/visibility-property.ts'

// What each user sees of a room through every path, against the membership rule, on Postgres
// (the property is in test/support/visibility-property.ts).
describeWhatEachUserSees(STORES[1])
