/**
 * Task queues. `main`: every workflow and activity of the product, except bulk mail. `mail`: the
 * notice mails (one activity per recipient), served by workers created with
 * maxTaskQueueActivitiesPerSecond = MAIL_SEND_RATE, so the Temporal server hands out at most that
 * many sends per second across all workers together (SES's account rate).
 */
export const taskQueues = (base: string) => ({
  main: base,
  mail: `${base}-mail`,
});
