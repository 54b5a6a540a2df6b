// Room: src/core/policy.ts
import t from 'tap'
import { defaultPassword } from '../../src/core/contract.ts'
import { ConfigError } from '../../src/core/errors.ts'
import { openPolicy, parsePolicy, passwordProblem } from '../../src/core/policy.ts'

t.test('without a file: every namespace, the seed\'s password', async (t) => {
  const p = openPolicy.forSecret('x')
  t.ok(p.allows('anything'))
  t.same(p.password, defaultPassword)
})

t.test('namespaces by name or glob, per shared secret, with defaults', async (t) => {
  const policy = parsePolicy(`
defaults:
  namespaces: [shared]
sharedSecrets:
  grafana-db:
    namespaces: [grafana, "pg-*", "team-?"]
  open:
    namespaces: ["*"]
`, 'policy.yaml')
  const db = policy.forSecret('grafana-db')
  const cases: [string, boolean][] = [['grafana', true], ['pg-main', true], ['pg-', true], ['team-a', true], ['team-ab', false],
    ['grafana-2', false], ['shared', false], ['xgrafana', false]]
  for (const [ns, allowed] of cases) t.equal(db.allows(ns), allowed, ns)
  t.ok(policy.forSecret('unlisted').allows('shared'), 'defaults apply to unlisted secrets')
  t.notOk(policy.forSecret('unlisted').allows('grafana'))
  t.ok(policy.forSecret('open').allows('anything'))
})

t.test('an empty file is the open policy', async (t) => {
  t.ok(parsePolicy('', 'empty.yaml').forSecret('a').allows('b'))
})

/** The error `f` throws (tap's `{ message }` pattern only checks that the message contains the string). */
function thrown(f: () => unknown): Error | undefined {
  try {
    f()
  } catch (err) {
    return err as Error
  }
  return undefined
}

t.test('bad files are refused at start, saying where', async (t) => {
  // The whole message: a pattern would pass for any message that merely contains the words.
  const cases: [string, string][] = [
    ['secrets: {}', 'p.yaml: /secrets: Unexpected property'],
    ['sharedSecrets:\n  a:\n    namespaces: grafana', 'p.yaml: /sharedSecrets/a/namespaces: Expected array'],
    ['sharedSecrets:\n  a:\n    password: { length: "long" }', 'p.yaml: /sharedSecrets/a/password/length: Expected integer'],
    ['sharedSecrets:\n  a:\n    password: { colour: red }', 'p.yaml: /sharedSecrets/a/password/colour: Unexpected property'],
    ['sharedSecrets:\n  Bad_Name: {}', 'sharedSecrets.Bad_Name: not a valid shared secret NAME: it must be a DNS-1123 label: ' +
      'lower-case letters, digits and \'-\', starting and ending with a letter or digit'],
    ['sharedSecrets:\n  a:\n    password: { length: 8, digits: 5, symbols: 5 }', 'sharedSecrets.a.password: digits (5) + symbols (5) exceed length (8)'],
    ['defaults:\n  password: { symbolCharacters: "-_ " }', 'defaults.password: symbolCharacters "-_ " may hold only printable ASCII characters, no space'],
    ['defaults:\n  password: { allowRepeat: false }', 'defaults.password: 5 symbols without repeats, symbolCharacters has 4: set allowRepeat: true'],
  ]
  for (const [text, message] of cases) {
    const err = thrown(() => parsePolicy(text, 'p.yaml'))
    t.type(err, ConfigError, `${text}: a ConfigError`)
    t.equal(err?.message, message, text)
  }
  // After secretwire's prefix, the YAML library's own words, which are its to change; where it is, is ours to keep.
  const yaml = thrown(() => parsePolicy('sharedSecrets: [', 'p.yaml'))
  t.type(yaml, ConfigError)
  t.equal(yaml?.message.slice(0, 'p.yaml: not valid YAML: '.length), 'p.yaml: not valid YAML: ')
  t.match(yaml?.message, / at line 1, column 17:/)
})

t.test('password shapes ESO cannot generate are named', async (t) => {
  const shape = (o: object) => ({ ...defaultPassword, ...o })
  t.equal(passwordProblem(defaultPassword), undefined, 'the seed\'s shape is fine')
  t.equal(passwordProblem(shape({ allowRepeat: false, length: 20, symbols: 4 })), undefined)
  t.equal(passwordProblem(shape({ allowRepeat: false, length: 70 })), '60 letters without repeats, only 52 exist: set allowRepeat: true')
  t.equal(passwordProblem(shape({ allowRepeat: false, length: 40, noUpper: true })), '30 letters without repeats, only 26 exist: set allowRepeat: true')
  t.equal(passwordProblem(shape({ allowRepeat: false, length: 30, digits: 11 })), '11 digits without repeats, only 10 exist: set allowRepeat: true')
  t.equal(passwordProblem(shape({ allowRepeat: false, length: 20, symbols: 5 })), '5 symbols without repeats, symbolCharacters has 4: set allowRepeat: true')
})
