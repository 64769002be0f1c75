/**
 * The V8 flags every dockerlet process runs with: the bin's shebang and `npm start` carry them
 * too (a unit test keeps those in line with this list), and a dockerlet process that starts
 * another one passes them on.
 *
 * --max-semi-space-size=4: a node's steady state makes small garbage that dies young (probe
 * connections, API and engine responses, status objects). V8's young generation otherwise
 * grows to 16 MB semi-spaces under that allocation rate, and holds the memory. Measured here with 100 pods (agent RSS max; agent CPU with nothing happening):
 * 16 MB (V8's default) 140 MB, 0.5%; 8 MB 127 MB; 4 MB 116 MB, 0.8%; 2 MB 104 MB, 1.0%:
 * smaller semi-spaces promote more objects, and the old generation's collections that follow
 * cost the idle node CPU. 4 MB keeps the idle node under 1% of a core.
 */
export const NodeFlags: readonly string[] = ['--max-semi-space-size=4'];
