/** The whole catalogue, in a stable order (ports are assigned by position). */
import type { ConformanceCase } from '../case.js';
import { closeCases } from './close.js';
import { congestionCases } from './congestion.js';
import { dataCases } from './data.js';
import { handshakeCases } from './handshake.js';
import { optionCases } from './options.js';
import { resetCases } from './reset.js';
import { timerCases } from './timers.js';

export { closeCases, congestionCases, dataCases, handshakeCases, optionCases, resetCases, timerCases };

/** Every case of the kit. */
export const catalogue: readonly ConformanceCase[] = [...handshakeCases, ...optionCases, ...resetCases, ...dataCases, ...congestionCases, ...closeCases, ...timerCases];
