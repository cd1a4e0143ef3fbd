import express, { type Router } from 'express';
import { create } from 'xmlbuilder2';
import { baseUrlOf } from './respond.js';

const VOSI_CAPABILITIES = 'http://www.ivoa.net/xml/VOSICapabilities/v1.0';
const VR = 'http://www.ivoa.net/xml/VOResource/v1.0';
const VS = 'http://www.ivoa.net/xml/VODataService/v1.1';
const XSI = 'http://www.w3.org/2001/XMLSchema-instance';

/** IVOA SSO: bearer tokens (SSO next's `#token`, and SSO 2.0's OAuth for clients that know only that). */
export const TOKEN_SECURITY_METHODS = ['ivo://ivoa.net/sso#token', 'ivo://ivoa.net/sso#OAuth'];
/** IVOA SSO 2.0's cookie method: the page's login cookie (GET /login), where the broker offers login. */
export const COOKIE_SECURITY_METHOD = 'ivo://ivoa.net/sso#cookie';

/**
 * VOSI capabilities, readable without a token: the services and how to authenticate to them. An
 * interface with no securityMethod is anonymous (VOResource); with authentication it lists the
 * token methods only, so a client knows to get a token before calling.
 */
export function capabilitiesRoute(options: { publicUrl?: string; authenticated: boolean; cookie?: boolean }): Router {
  const router = express.Router();
  router.get('/capabilities', (req, res) => {
    const base = baseUrlOf(req, options.publicUrl);
    const root = create({ version: '1.0', encoding: 'UTF-8' })
      .ele(VOSI_CAPABILITIES, 'vosi:capabilities')
      .att('http://www.w3.org/2000/xmlns/', 'xmlns:vr', VR)
      .att('http://www.w3.org/2000/xmlns/', 'xmlns:vs', VS)
      .att('http://www.w3.org/2000/xmlns/', 'xmlns:xsi', XSI);
    const capability = (standardID: string, path: string, secured: boolean): void => {
      const iface = root.ele('capability').att('standardID', standardID)
        .ele('interface').att(XSI, 'xsi:type', 'vs:ParamHTTP').att('role', 'std');
      iface.ele('accessURL').att('use', 'base').txt(`${base}${path}`);
      if (secured && options.authenticated) for (const method of [...TOKEN_SECURITY_METHODS, ...(options.cookie ? [COOKIE_SECURITY_METHOD] : [])]) iface.ele('securityMethod').att('standardID', method);
    };
    capability('ivo://ivoa.net/std/VOSI#capabilities', '/capabilities', false);
    capability('ivo://ivoa.net/std/VOSI#availability', '/availability', false);
    // No IVOA identifier is registered for the ExecutionBroker yet; this one is provisional.
    capability('ivo://ivoa.net/std/ExecutionBroker#1.0', '', true);
    res.status(200).type('text/xml; charset=utf-8').send(root.end({ prettyPrint: true }));
  });
  return router;
}
