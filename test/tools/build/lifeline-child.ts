// Run by lifeline.test.ts as a background build would be: stopWithParent, then a long-running child in its group
// (a compiler's stand-in), whose pid it prints; then it waits.
import { spawn } from 'node:child_process'
import { stopWithParent } from '../../../tools/build/lifeline.ts'

stopWithParent(process.env, 100)
const worker = spawn('sleep', ['300'], { stdio: 'ignore' })
process.stdout.write(`${worker.pid}\n`)
setInterval(() => undefined, 1 << 30)
