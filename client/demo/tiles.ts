// Video tiles of the call grid: one for us, one per remote peer.
import type { RemoteTrack, RemoteVideoStats } from '../sdk/index.js';

export interface RemoteTile {
  peerId: string;
  root: HTMLDivElement;
  video: HTMLVideoElement;
  nameEl: HTMLSpanElement;
  initialsEl: HTMLSpanElement;
  stats: HTMLDListElement;
  layerSelect: HTMLSelectElement;
  audio: Map<string, HTMLAudioElement>;
  videoConsumerId: string | null;
  audioMuted: boolean;
  videoMuted: boolean;
}

export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  const letters = words.length > 1 ? [words[0], words[words.length - 1]] : [name.trim()];
  return (
    letters
      .map((word) => Array.from(word ?? '')[0] ?? '')
      .join('')
      .slice(0, 2)
      .toUpperCase() || '?'
  );
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  children: Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}

const LAYERS: Array<[string, string]> = [
  ['2', 'High · r2'],
  ['1', 'Medium · r1'],
  ['0', 'Low · r0'],
];

export function createRemoteTile(peerId: string, nickname: string, onLayer: (layer: number) => void): RemoteTile {
  const video = el('video', { 'data-testid': 'remote-video', playsinline: '', autoplay: '' });
  video.muted = true; // audio plays through its own <audio> element
  video.playsInline = true;
  video.autoplay = true;

  const initialsEl = el('span');
  const avatar = el('div', { class: 'tile-avatar' }, [initialsEl]);
  const nameEl = el('span', { class: 'tile-name', 'data-testid': 'tile-name' });
  const mic = el('span', { class: 'tile-mic', title: 'Muted' });
  const footer = el('div', { class: 'tile-footer' }, [mic, nameEl]);
  const stats = el('dl', { class: 'tile-stats', 'data-testid': 'tile-stats' });
  const layerSelect = el('select', {
    class: 'layer-select',
    'data-testid': 'layer-select',
    'aria-label': 'Video quality to receive',
    title: 'Video quality to receive',
  });
  for (const [value, label] of LAYERS) layerSelect.append(el('option', { value }, [document.createTextNode(label)]));
  layerSelect.addEventListener('change', () => onLayer(Number(layerSelect.value)));

  const root = el(
    'div',
    {
      class: 'tile remote',
      'data-testid': 'remote-tile',
      'data-peer-id': peerId,
      'data-video': 'off',
      'data-audio': 'off',
      'data-audio-muted': 'false',
      'data-video-muted': 'false',
    },
    [video, avatar, stats, layerSelect, footer],
  );

  const tile: RemoteTile = {
    peerId,
    root,
    video,
    nameEl,
    initialsEl,
    stats,
    layerSelect,
    audio: new Map(),
    videoConsumerId: null,
    audioMuted: false,
    videoMuted: false,
  };
  setTileName(tile, nickname);
  renderStats(tile, null);
  return tile;
}

export function setTileName(tile: RemoteTile, nickname: string): void {
  const name = nickname || 'Guest';
  tile.nameEl.textContent = name;
  tile.initialsEl.textContent = initials(name);
  tile.root.dataset.nickname = name;
}

/** Attaches a remote track: video into the tile, audio into a hidden <audio> in `audioSink`. */
export function attachTrack(tile: RemoteTile, track: RemoteTrack, audioSink: HTMLElement, onBlocked: () => void): void {
  const stream = new MediaStream([track.track]);
  if (track.kind === 'video') {
    tile.videoConsumerId = track.consumerId;
    tile.video.dataset.consumerId = track.consumerId;
    tile.video.srcObject = stream;
    tile.video.play().catch(() => {});
    tile.videoMuted = track.producerPaused;
  } else {
    const audio = el('audio', { 'data-testid': 'remote-audio', 'data-peer-id': tile.peerId });
    audio.autoplay = true;
    audio.srcObject = stream;
    audioSink.append(audio);
    tile.audio.set(track.consumerId, audio);
    audio.play().catch(onBlocked);
    tile.audioMuted = track.producerPaused;
  }
  refreshTileState(tile);
}

export function detachTrack(tile: RemoteTile, consumerId: string): void {
  if (tile.videoConsumerId === consumerId) {
    tile.videoConsumerId = null;
    tile.video.srcObject = null;
    delete tile.video.dataset.consumerId;
    renderStats(tile, null);
  }
  const audio = tile.audio.get(consumerId);
  if (audio) {
    audio.srcObject = null;
    audio.remove();
    tile.audio.delete(consumerId);
  }
  refreshTileState(tile);
}

export function removeTile(tile: RemoteTile): void {
  for (const consumerId of [...tile.audio.keys()]) detachTrack(tile, consumerId);
  tile.video.srcObject = null;
  tile.root.remove();
}

export function refreshTileState(tile: RemoteTile): void {
  const hasVideo = tile.videoConsumerId !== null;
  const hasAudio = tile.audio.size > 0;
  tile.root.dataset.video = hasVideo && !tile.videoMuted ? 'on' : 'off';
  tile.root.dataset.audio = hasAudio && !tile.audioMuted ? 'on' : 'off';
  tile.root.dataset.audioMuted = String(tile.audioMuted);
  tile.root.dataset.videoMuted = String(tile.videoMuted);
}

function formatBitrate(kbps: number | null): string {
  if (kbps === null) return '—';
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbps` : `${kbps} kbps`;
}

/** Layer reported by the server, else a guess from the frame height (marked ≈). */
function formatLayer(stats: RemoteVideoStats): string {
  const size = stats.frameWidth && stats.frameHeight ? `${stats.frameWidth}×${stats.frameHeight}` : '';
  let layer: string;
  if (stats.spatialLayer !== null) {
    layer = `r${stats.spatialLayer}${stats.temporalLayer !== null ? `/t${stats.temporalLayer}` : ''}`;
  } else if (stats.frameHeight) {
    layer = `≈r${stats.frameHeight >= 540 ? 2 : stats.frameHeight >= 270 ? 1 : 0}`;
  } else {
    layer = '—';
  }
  return size ? `${layer} · ${size}` : layer;
}

export function renderStats(tile: RemoteTile, stats: RemoteVideoStats | null): void {
  const rows: Array<[string, string]> = stats
    ? [
        ['bitrate', formatBitrate(stats.bitrateKbps)],
        ['layer', formatLayer(stats)],
        ['loss', stats.packetLossPct === null ? '—' : `${stats.packetLossPct.toFixed(1)}%`],
        ['rtt', stats.rttMs === null ? '—' : `${stats.rttMs} ms`],
      ]
    : [
        ['bitrate', '—'],
        ['layer', '—'],
        ['loss', '—'],
        ['rtt', '—'],
      ];
  tile.stats.replaceChildren(
    ...rows.flatMap(([label, value]) => [
      el('dt', {}, [document.createTextNode(label)]),
      el('dd', { 'data-stat': label }, [document.createTextNode(value)]),
    ]),
  );
  if (stats) {
    tile.root.dataset.bitrateKbps = String(stats.bitrateKbps ?? '');
    tile.root.dataset.spatialLayer = String(stats.spatialLayer ?? '');
  }
}
