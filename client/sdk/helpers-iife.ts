// IIFE entry of the helpers chunk: <script src="tx-helpers.js"></script> after tx-sdk.js defines window.TxHelpers.
import * as helpers from './helpers.js';

(window as unknown as { TxHelpers: typeof helpers }).TxHelpers = helpers;
