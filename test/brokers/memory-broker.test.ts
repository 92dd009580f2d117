import t from 'tap'
import { MemoryBroker } from '../../lib/brokers/memory-broker.js'
import { brokerContract } from './broker-contract.js'

brokerContract(t, () => new MemoryBroker())
