import { create } from 'xmlbuilder2';
import type { Router } from 'express';
import express from 'express';
import type { BrokerApi } from './broker-api.js';

const VOSI_AVAILABILITY = 'http://www.ivoa.net/xml/VOSIAvailability/v1.0';

/** VOSI availability: true only when the store answers and at least one site worker is alive. */
export function availabilityRoute(api: BrokerApi): Router {
  const router = express.Router();
  router.get('/availability', async (_req, res) => {
    const { available, note } = await api.availability();
    const root = create({ version: '1.0', encoding: 'UTF-8' }).ele(VOSI_AVAILABILITY, 'availability');
    root.ele(VOSI_AVAILABILITY, 'available').txt(String(available));
    root.ele(VOSI_AVAILABILITY, 'note').txt(note);
    res.status(200).type('text/xml; charset=utf-8').send(root.end({ prettyPrint: true }));
  });
  return router;
}
