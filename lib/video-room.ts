import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';

/**
 * The seam for a real video service. The default issues a room URL per consultation and
 * short-lived HS256 join tokens that the video service verifies with the shared secret; tokens
 * are valid only inside the consultation's join window and carry no personal data.
 */
export interface JoinTicket {
  url: string;
  token: string;
  expiresAt: string;
}

export interface VideoRoomProvider {
  joinTicket(args: { consultationId: string; role: 'patient' | 'practitioner'; notBefore: Date; expiresAt: Date }): Promise<JoinTicket>;
}

export function jwtVideoRooms(opts: { baseUrl: string; secret: string }): VideoRoomProvider {
  const key = new TextEncoder().encode(opts.secret);
  const roomOf = (consultationId: string) => createHmac('sha256', opts.secret).update(consultationId).digest('base64url').slice(0, 22);
  return {
    async joinTicket({ consultationId, role, notBefore, expiresAt }) {
      const room = roomOf(consultationId);
      const token = await new SignJWT({ room, role })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('for-clinic')
        .setAudience('video')
        .setSubject(consultationId)
        .setNotBefore(Math.floor(notBefore.getTime() / 1000))
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .setIssuedAt()
        .sign(key);
      return { url: `${opts.baseUrl}/rooms/${room}`, token, expiresAt: expiresAt.toISOString() };
    },
  };
}
