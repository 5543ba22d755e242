// Every workflow the orders worker hosts (its workflowsPath).
export { orderSaga, cancelSignal, compensateSignal, statusQuery } from './order-saga';
