/**
 * pingPong() in a process of its own, for a network namespace this process cannot enter (a
 * pod's, joined with nsenter by load.ts pingPongIn): prints the round trips' times in µs as JSON.
 * Usage: node --import tsx ping-pong-child.ts <host> <port> <count> <warm-up>
 */
import { pingPong } from './load.js';

const [host, port, count, warmUp] = process.argv.slice(2);
process.stdout.write(JSON.stringify(await pingPong(host!, Number(port), Number(count), Number(warmUp))));
