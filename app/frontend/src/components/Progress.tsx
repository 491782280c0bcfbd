/** Upload progress as a native progress bar with its percentage in words. */
export function Progress({ fraction, label }: { fraction: number; label: string }) {
  const percent = Math.round(fraction * 100);
  return (
    <div class="progress">
      <label for="upload-progress">{label}</label>
      <progress id="upload-progress" max={100} value={percent} aria-valuetext={`${percent}%`}>
        {percent}%
      </progress>
      <span aria-hidden="true">{percent}%</span>
    </div>
  );
}
