/** The LevelDB engine against the storage contract. */
import { describeContract } from './contract.js';
import { levelHarness } from './_engines.js';

describeContract(levelHarness());
