import { createTokenVerifier, signToken } from './auth-token.ts';
import { SignJWT, generateKeyPair, exportSPKI, exportJWK } from 'jose';
const key = 'x'.repeat(32);
const v = await createTokenVerifier({ signKey: key });
const exp = Math.floor(Date.now()/1000)+60;
const tries: [string,string][] = [
  ['ok', signToken({username:'a', exp}, key)],
  ['expired', signToken({username:'a', exp: exp-120}, key)],
  ['noexp', signToken({username:'a'}, key)],
  ['expstr', signToken({username:'a', exp: String(exp)}, key)],
  ['expnull', signToken({username:'a', exp: null}, key)],
  ['hs512', signToken({username:'a', exp}, key, 'HS512')],
  ['none', signToken({username:'a', exp}, key, 'none')],
  ['otherkey', signToken({username:'a', exp}, 'y'.repeat(32))],
  ['nbf', signToken({username:'a', exp, nbf: exp}, key)],
  ['trunc', signToken({username:'a', exp}, key).slice(0,-5)],
  ['15k', `${Buffer.from(JSON.stringify({alg:'HS256',typ:'JWT'})).toString('base64url')}.${'A'.repeat(15000)}.sig`],
];
const { privateKey, publicKey } = await generateKeyPair('RS256');
tries.push(['rs256-when-hs', await new SignJWT({username:'a'}).setProtectedHeader({alg:'RS256'}).setExpirationTime(exp).sign(privateKey)]);
for (const [n,t] of tries) console.log(n, await v.verify(t).then(x=>JSON.stringify(x), e=>e.code+' '+e.message));
const v2 = await createTokenVerifier({ publicKeyPem: await exportSPKI(publicKey) });
console.log('rs', await v2.verify(tries.at(-1)![1]).then(x=>JSON.stringify(x), e=>e.code));
console.log('hs-when-rs', await v2.verify(tries[0]![1]).then(x=>JSON.stringify(x), e=>e.code));
const t0=performance.now(); for (let i=0;i<10000;i++) await v.verify(tries[0]![1]); console.log('hs256 us/verify', (performance.now()-t0)/10);
