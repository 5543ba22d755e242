/** The bare workflow's three task queues (the saga's first three, without its steps). */
export function bareQueues(prefix: string): { orders: string; payments: string; inventory: string } {
  return { orders: `${prefix}orders`, payments: `${prefix}payments`, inventory: `${prefix}inventory` };
}
