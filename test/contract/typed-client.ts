import createClient from 'openapi-fetch';
import type { components, paths } from './api-types';

/**
 * What a clinic front end writes against our contract: a client typed only by the types
 * openapi-typescript generates from /openapi.json (api-types.ts). `npm test` type-checks it
 * (tsc), and test/api/typed-client.test.ts drives the running API with it, so a change to the
 * document that breaks front ends breaks the build here first.
 */
export type Patient = components['schemas']['Patient'];
export type Problem = components['schemas']['Problem'];

export function clinicClient(baseUrl: string) {
  const api = createClient<paths>({ baseUrl });
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
  return {
    async login(tenant: string, loginId: string, password: string) {
      const { data, error, response } = await api.POST('/v1/auth/login', { body: { tenant, loginId, password } });
      return { status: response.status, session: data, problem: error };
    },
    async changePassword(token: string, currentPassword: string, newPassword: string) {
      const { error, response } = await api.POST('/v1/auth/password', { headers: bearer(token), body: { currentPassword, newPassword } });
      return { status: response.status, problem: error };
    },
    async me(token: string) {
      const { data, error, response } = await api.GET('/v1/me', { headers: bearer(token) });
      return { status: response.status, me: data, problem: error };
    },
    async registerPatient(token: string, patient: { name: string; kana: string; birthDate: string }) {
      const { data, error, response } = await api.POST('/v1/patients', { headers: bearer(token), body: patient });
      return { status: response.status, patient: data satisfies Patient | undefined, problem: error };
    },
    async patient(token: string, id: string) {
      const { data, error, response } = await api.GET('/v1/patients/{id}', { headers: bearer(token), params: { path: { id } } });
      return { status: response.status, patient: data, problem: error };
    },
    async searchPatients(token: string, name: string) {
      const { data, error, response } = await api.GET('/v1/patients', { headers: bearer(token), params: { query: { name } } });
      return { status: response.status, page: data, problem: error };
    },
  };
}
