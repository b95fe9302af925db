// The login page: one client of the HTTP login contract (challenge → personal_sign → verify).
// Wallets are discovered with EIP-6963 (a legacy window.ethereum is the fallback); every ordinary
// failure gets a plain message and a way forward. No inline script: data comes in data attributes.
(() => {
  const $ = (id) => document.getElementById(id);
  const root = $('login');
  const uid = root.dataset.uid;
  const chains = JSON.parse(root.dataset.chains);
  const texts = JSON.parse(root.dataset.texts);
  const t = (key, values = {}) => (texts[key] || key).replace(/\{(\w+)\}/g, (m, name) => (name in values ? values[name] : m));
  const chainName = (id) => (chains.find((c) => c.id === id) || {}).name || t('login.unknownChain', { id: String(id) });

  function say(element, text, isError = false) {
    element.textContent = text;
    element.classList.toggle('error', isError);
  }
  const status = (text, isError) => say($('status'), text, isError);

  /** POSTs to the contract; refusals carry the server's reason code, a network failure `unreachable`. */
  async function post(path, body) {
    let res;
    try {
      res = await fetch(`/interaction/${uid}/${path}`, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch {
      throw Object.assign(new Error(t('error.unreachable')), { code: 'unreachable' });
    }
    const data = await res.json().catch(() => ({}));
    if (res.ok) return data;
    // A proxy's 502/503/504 page is no answer from us: the same as not reaching the server.
    if (!data.error && res.status >= 500) throw Object.assign(new Error(t('error.unreachable')), { code: 'unreachable' });
    throw Object.assign(new Error(data.error_description || t('error.http', { status: String(res.status) })), {
      code: data.error || 'server_error',
      server: true,
    });
  }

  const toHex = (text) => `0x${Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('')}`;

  // --- wallet discovery (EIP-6963), with the legacy injected provider as fallback ---
  const announced = new Map();
  let chosen;
  let flow = 0; // increases on every new attempt, so a stale one stops quietly
  let busy = false; // an attempt is waiting on the wallet or the server
  let rendered = ''; // the wallets the list shows, so an unchanged list is not rebuilt (and focus kept)
  let noWalletSaid = false; // the page said there is no wallet; a wallet announced later takes that back

  function renderWallets() {
    const list = [...announced.values()];
    if (!list.length && window.ethereum) list.push({ info: { uuid: 'legacy', name: t('login.browserWallet') }, provider: window.ethereum });
    const ul = $('wallets');
    const shown = list.map((entry) => entry.info.uuid).join('\n');
    if (shown === rendered) return list.length;
    rendered = shown;
    ul.replaceChildren(
      ...list.map((entry) => {
        const li = document.createElement('li');
        const button = document.createElement('button');
        button.type = 'button';
        button.dataset.wallet = entry.info.rdns || entry.info.uuid;
        if (typeof entry.info.icon === 'string' && entry.info.icon.startsWith('data:image/')) {
          const img = document.createElement('img');
          img.src = entry.info.icon;
          img.alt = '';
          button.append(img);
        }
        button.append(document.createTextNode(entry.info.name));
        button.walletProvider = entry.provider;
        button.addEventListener('click', () => choose(entry));
        li.append(button);
        return li;
      }),
    );
    if (list.length === 1) ul.querySelector('button').classList.add('primary');
    markChosen();
    return list.length;
  }

  /** Marks the chosen wallet's button (aria-pressed) for sight and for screen readers; returns it. */
  function markChosen() {
    if (!chosen) return undefined;
    let mine;
    for (const button of $('wallets').querySelectorAll('button')) {
      const isChosen = button.walletProvider === chosen.provider;
      button.setAttribute('aria-pressed', String(isChosen));
      if (isChosen) mine = button;
    }
    return mine;
  }

  /** A button that hides itself when pressed hands keyboard focus to the chosen wallet, not to the page top. */
  function keepFocus() {
    const button = markChosen();
    if (button) button.focus();
  }

  window.addEventListener('eip6963:announceProvider', (event) => {
    const detail = event.detail;
    if (!detail || !detail.info || !detail.provider || announced.has(detail.info.uuid)) return;
    announced.set(detail.info.uuid, detail);
    renderWallets();
    if (noWalletSaid) {
      noWalletSaid = false;
      status('');
    }
  });
  window.dispatchEvent(new Event('eip6963:requestProvider'));
  // Wallets announce at once; give late ones a moment before saying there is none.
  setTimeout(() => {
    if (!renderWallets()) {
      noWalletSaid = true;
      status(t('error.noWallet'), true);
      $('manual').open = true;
      $('mobile').open = true;
    }
  }, 400);

  const listening = new WeakSet(); // providers whose accountsChanged we already follow

  function choose(entry) {
    const { provider } = entry;
    if (!listening.has(provider) && provider.on) {
      listening.add(provider);
      provider.on('accountsChanged', (accounts) => {
        if (!chosen || chosen.provider !== provider || !current.address || !accounts[0] || accounts[0].toLowerCase() === current.address.toLowerCase()) return;
        flow++;
        busy = false;
        $('details').hidden = true;
        status(t('error.accountChanged', { address: accounts[0] }), true);
        offerRetry();
      });
      // Switching to an accepted network in the wallet itself continues the sign-in.
      provider.on('chainChanged', (chainId) => {
        if (!chosen || chosen.provider !== provider || !wrongNetwork) return;
        const id = Number.parseInt(chainId, 16);
        if (chains.some((c) => c.id === id)) run();
        else status(t('error.wrongNetwork', { chain: chainName(id) }), true); // still not one we accept: say which it is now
      });
    }
    // A second click on the wallet already asked would open a second request in it (MetaMask answers
    // that with -32002) or a second challenge to sign: the first request is still the one to answer.
    if (busy && chosen && chosen.provider === provider) return;
    chosen = entry;
    markChosen();
    run();
  }

  const current = { address: undefined };
  let wrongNetwork = false; // the attempt stopped because the wallet is on a network we do not accept

  function offerRetry() {
    $('retry').hidden = false;
  }

  function showDetails(address, chainId, message) {
    $('address').textContent = message.split('\n')[1] || address;
    $('network').textContent = chainName(chainId);
    $('message').textContent = message;
    $('details').hidden = false;
  }

  /** One login attempt. After an expired challenge it runs once more by itself (`afterExpiry`),
   *  and then keeps saying why the wallet asks again instead of the usual progress lines. */
  async function run(afterExpiry = false) {
    const attempt = ++flow;
    const progress = (text) => (afterExpiry ? status(t('error.expired'), true) : status(text));
    const { provider, info } = chosen;
    const wallet = info.name;
    $('retry').hidden = true;
    $('switch-network').hidden = true;
    current.address = undefined; // this attempt's account, once the wallet names it
    wrongNetwork = false;
    busy = true;
    let leaving = false;
    // A wallet that never answers (its window closed without a reply) must not leave the user stuck.
    setTimeout(() => attempt === flow && busy && offerRetry(), 30_000);
    try {
      progress(t('status.connecting', { wallet }));
      const [address] = await provider.request({ method: 'eth_requestAccounts' });
      const chainId = Number.parseInt(await provider.request({ method: 'eth_chainId' }), 16);
      if (attempt !== flow) return;
      current.address = address;
      if (!chains.some((c) => c.id === chainId)) {
        status(t('error.wrongNetwork', { chain: chainName(chainId) }), true);
        wrongNetwork = true;
        offerSwitch(provider, wallet);
        offerRetry();
        return;
      }
      const { message } = await post('challenge', { address, chainId });
      if (attempt !== flow) return;
      showDetails(address, chainId, message);
      progress(t('status.sign', { wallet }));
      const signature = await provider.request({ method: 'personal_sign', params: [toHex(message), address] });
      if (attempt !== flow) return;
      status(t('status.checking'));
      const { redirectTo } = await post('verify', { message, signature });
      status(t('status.done'));
      leaving = true;
      window.location.assign(redirectTo);
    } catch (err) {
      if (attempt !== flow) return;
      // An expired challenge is replaced at once, once: the user only has to sign again.
      if (err.code === 'expired' && !afterExpiry) {
        run(true);
        return;
      }
      status(explain(err, wallet), true);
      if (!FINAL.has(err.code)) offerRetry();
    } finally {
      if (attempt === flow && !leaving) busy = false;
    }
  }

  /** Refusals no retry on this page can fix: the sign-in has to start again at the application. */
  const FINAL = new Set(['interaction_not_found', 'wrong_prompt', 'too_many_challenges']);

  function explain(err, wallet) {
    if (FINAL.has(err.code)) return t('error.final', { description: err.message });
    if (err.code === 4001) return t('error.rejected');
    if (err.code === -32002) return t('error.locked', { wallet });
    if (err.code === 'unreachable') return t('error.unreachable');
    if (err.code === 'expired') return t('error.expiredRetry');
    if (err.server) return t('error.server', { description: err.message });
    return t('error.wallet', { wallet: wallet || t('login.browserWallet'), description: (err && err.message) || String(err) });
  }

  function offerSwitch(provider, wallet) {
    const target = chains[0];
    const button = $('switch-network');
    button.textContent = t('login.switchNetwork', { chain: target.name });
    button.hidden = false;
    button.onclick = async () => {
      const attempt = flow;
      button.hidden = true;
      keepFocus();
      try {
        await provider.request({ method: 'wallet_switchEthereumChain', params: [{ chainId: `0x${target.id.toString(16)}` }] });
        // The wallet's chainChanged may have continued already, or another wallet been chosen since.
        if (attempt === flow && wrongNetwork) run();
      } catch (err) {
        if (attempt !== flow) return;
        // 4902: the wallet does not know the network; it has to be added there first.
        const why = err.code === 4001 ? 'error.rejected' : err.code === 4902 ? 'error.unknownNetwork' : 'error.switchFailed';
        status(t(why, { chain: target.name, wallet }), true);
        button.hidden = false;
        offerRetry();
      }
    };
  }

  $('retry').addEventListener('click', () => {
    if (!chosen) return;
    keepFocus();
    run();
  });

  // --- signing elsewhere: copy the message, paste the signature ---
  const manualStatus = (text, isError) => say($('manual-status'), text, isError);
  // The server refuses these before it takes the challenge (the request's shape), so it stays valid.
  const KEEPS_CHALLENGE = new Set(['invalid_request', 'unsupported_media_type', 'payload_too_large']);
  let manualMessage;

  $('manual-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const address = $('manual-address').value.trim();
    const chainId = Number($('manual-chain').value);
    // A failed request must not leave an earlier message on screen to be signed.
    manualMessage = undefined;
    $('manual-sign').hidden = true;
    $('manual-signature').value = '';
    manualStatus('');
    try {
      const { message } = await post('challenge', { address, chainId });
      manualMessage = message;
      $('manual-message').value = message;
      $('manual-sign').hidden = false;
      manualStatus('');
      $('manual-signature').focus();
    } catch (err) {
      manualStatus(explain(err), true);
    }
  });

  $('manual-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(manualMessage);
    } catch {
      $('manual-message').select();
      document.execCommand('copy');
    }
    manualStatus(t('manual.copied'));
  });

  /** What was pasted, as the 0x-prefixed hex the server takes (tools differ on the prefix and line breaks). */
  function pastedSignature() {
    const hex = $('manual-signature').value.replace(/\s+/g, '').replace(/^0x/i, '');
    return /^([0-9a-fA-F]{2}){65,}$/.test(hex) ? `0x${hex}` : undefined;
  }

  $('manual-submit').addEventListener('click', async () => {
    const submit = $('manual-submit');
    if (submit.disabled || !manualMessage) return;
    const signature = pastedSignature();
    if (!signature) {
      manualStatus(t('manual.badSignature'), true); // not sent: the message stays usable
      $('manual-signature').focus();
      return;
    }
    submit.disabled = true;
    try {
      manualStatus(t('status.checking'));
      const { redirectTo } = await post('verify', { message: manualMessage, signature });
      manualStatus(t('status.done'));
      window.location.assign(redirectTo);
      return; // stays disabled while the browser leaves
    } catch (err) {
      if (err.server && !KEEPS_CHALLENGE.has(err.code)) {
        // A refusal after the server took the challenge burns it: that message can never be signed in with again.
        manualMessage = undefined;
        $('manual-sign').hidden = true;
        $('manual-signature').value = '';
        manualStatus(FINAL.has(err.code) ? explain(err) : `${explain(err)} ${t('manual.getNew')}`, true);
        $('manual-address').focus();
      } else {
        // Refused before the challenge was taken, not sent, or not answered: the same message may be sent again.
        manualStatus(explain(err), true);
      }
    }
    submit.disabled = false;
  });
})();
