/** The crash-model engine against the storage contract. */
import { describeContract } from './contract.js';
import { crashModelHarness } from './_engines.js';

describeContract(crashModelHarness());
