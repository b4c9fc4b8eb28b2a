// Sign-In with Ethereum (EIP-4361): the API writes the message for the connected address, the wallet
// signs it (personal_sign), the API checks it and issues a bearer token. The token is kept in memory
// only: a reload signs out.
import { postJson } from "./api";
import * as wallet from "./wallet";

export interface Session {
  token: string;
  address: string;
  chain_id: number;
  expires_at: number;
}

let session: Session | null = null;

export function current(): Session | null {
  return session && session.expires_at * 1000 > Date.now() ? session : null;
}

/** The `Authorization` header for a signed-in request; empty when signed out. */
export function authorization(): Record<string, string> {
  const s = current();
  return s ? { authorization: `Bearer ${s.token}` } : {};
}

export async function signIn(): Promise<Session> {
  const who = wallet.current() ?? (await wallet.connect());
  const { message } = await postJson<{ message: string | null }>("/auth/nonce", { address: who.address });
  if (!message) throw new Error("The API gave no message to sign.");
  const signature = await wallet.signMessage(who.address, message);
  session = await postJson<Session>("/auth/verify", { message, signature });
  return session;
}
