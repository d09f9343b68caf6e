// lifo passes the strategy conformance suite (conformance.ts).
import { referenceModels } from '@docket/testing';
import { lifo } from '../src/index.js';
import { runStrategyConformance } from './conformance.js';

runStrategyConformance({ strategy: lifo, reference: referenceModels.lifo });
