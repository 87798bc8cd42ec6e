export { AutoscalerState, type AutoscalingSettings, type DecideInput, type Decision, decide, initialState, parseState, Reason } from './decide.js';
