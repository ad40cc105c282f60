"""Balance Gymnasium's CartPole-v1 with PPO (proximal policy optimization), then evaluate the policy greedily.

Why PPO rather than REINFORCE: REINFORCE uses each episode for one gradient step and its return-weighted gradient is
noisy, so near the 500-step cap it often wobbles or collapses. PPO with generalised advantage estimation (GAE)
learns a value baseline, reuses each batch of experience for several epochs of minibatch steps, and clips the
probability ratio so no step moves the policy far: it reaches 500 in fewer environment steps and stays there.

Speed: 8 environments step together (a Gymnasium vector env), so one forward pass (a TinyJit replay) picks the
actions of all 8; the PPO update is a TinyJit step too. Training stops once the last 100 training episodes average
--target (475) or after --steps environment steps. Expect the greedy policy to average 500 (the cap) over 100
evaluation episodes after about 160,000 steps, 2 minutes here (see examples/README.md). Writes a PNG plot of the
episode returns and the weights (safe_save) to --out.

    python examples/cartpole.py [--steps 300000] [--envs 8] [--lr 0.001] [--device CLANG] [--seed 0] [--out runs/]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import gymnasium as gym
import matplotlib
import numpy as np
from tqdm import tqdm

from tinygrad_core import Device, Tensor, no_grad
from tinygrad_core.jit import TinyJit
from tinygrad_core.nn import Linear, optim
from tinygrad_core.nn.state import get_state_dict, safe_save

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt


class ActorCritic:
    """Two small MLPs on the 4 observations: the policy's action logits and the value (expected discounted return)."""

    def __init__(self, observations: int, actions: int, hidden: int = 64):
        self.policy = [Linear(observations, hidden), Tensor.tanh, Linear(hidden, hidden), Tensor.tanh]
        self.policy.append(Linear(hidden, actions))
        self.value = [Linear(observations, hidden), Tensor.tanh, Linear(hidden, hidden), Tensor.tanh, Linear(hidden, 1)]

    def logits(self, obs: Tensor) -> Tensor:
        return obs.sequential(self.policy)

    def values(self, obs: Tensor) -> Tensor:
        return obs.sequential(self.value).reshape(-1)


def make_envs(count: int) -> gym.vector.VectorEnv:
    # SAME_STEP: an episode that ends is reset within the same step(), its last observation kept in info["final_obs"]
    mode = gym.vector.AutoresetMode.SAME_STEP
    return gym.make_vec(
        "CartPole-v1", num_envs=count, vectorization_mode="sync", vector_kwargs={"autoreset_mode": mode}
    )


def advantages(
    rewards: np.ndarray, values: np.ndarray, dones: np.ndarray, last_values: np.ndarray, gamma: float, lam: float
) -> np.ndarray:
    """GAE: exponentially weighted sums of TD errors r + gamma V(s') - V(s), cut where an episode ended."""
    out = np.zeros_like(rewards)
    running = np.zeros_like(last_values)
    for t in reversed(range(len(rewards))):
        next_values = last_values if t == len(rewards) - 1 else values[t + 1]
        alive = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_values * alive - values[t]
        running = delta + gamma * lam * alive * running
        out[t] = running
    return out


def evaluate(model: ActorCritic, episodes: int, seed: int) -> np.ndarray:
    """The return of one greedy episode (the most probable action each step) in each of `episodes` environments."""
    envs = make_envs(episodes)
    obs, _ = envs.reset(seed=seed)
    returns, finished = np.zeros(episodes), np.zeros(episodes, dtype=bool)
    with no_grad():
        while not finished.all():
            actions = model.logits(Tensor(obs)).argmax(axis=1).numpy()
            obs, rewards, terminated, truncated, _ = envs.step(actions)
            returns += rewards * ~finished
            finished |= terminated | truncated
    envs.close()
    return returns


def plot(path: Path, returns: list[float], target: float, title: str) -> None:
    episodes = np.arange(1, len(returns) + 1)
    window = min(100, len(returns))
    rolling = np.convolve(returns, np.ones(window) / window, mode="valid")
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(episodes, returns, lw=0.6, alpha=0.5, label="episode return")
    ax.plot(episodes[window - 1 :], rolling, lw=2, label=f"mean of the last {window}")
    ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target:g}")
    ax.set_xlabel("training episode")
    ax.set_ylabel("return")
    ax.set_title(title)
    ax.legend(loc="center left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300_000, help="environment steps at most (default 300000)")
    parser.add_argument("--envs", type=int, default=8, help="environments stepped together (default 8)")
    parser.add_argument("--rollout", type=int, default=128, help="steps per environment between updates")
    parser.add_argument("--epochs", type=int, default=4, help="PPO epochs over each rollout (default 4)")
    parser.add_argument("--minibatches", type=int, default=4, help="minibatches per PPO epoch (default 4)")
    parser.add_argument("--lr", type=float, default=0.001, help="Adam's learning rate, decayed linearly to 0")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount (default 0.99)")
    parser.add_argument("--lam", type=float, default=0.95, help="GAE's lambda (default 0.95)")
    parser.add_argument("--clip", type=float, default=0.2, help="PPO's ratio clip (default 0.2)")
    parser.add_argument("--target", type=float, default=475, help="stop at this mean return of 100 episodes")
    parser.add_argument("--eval-episodes", type=int, default=100, help="greedy episodes in the final evaluation")
    parser.add_argument("--device", help="device to train on (default: Device.DEFAULT)")
    parser.add_argument("--out", default="runs", help="folder for the plot and the weights (default runs/)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.device:
        Device.DEFAULT = args.device
    Tensor.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)

    envs = make_envs(args.envs)
    n_obs, n_actions = envs.single_observation_space.shape[0], int(envs.single_action_space.n)
    model = ActorCritic(n_obs, n_actions)
    opt = optim.Adam([model], lr=args.lr, eps=1e-5)
    updates = max(args.steps // (args.envs * args.rollout), 1)
    schedule = optim.LambdaLR(opt, lambda update: 1 - update / updates)
    batch = args.envs * args.rollout
    minibatch = batch // args.minibatches
    print(f"device: {Device.DEFAULT} ({Device.describe(Device.DEFAULT)})")
    print(
        f"PPO on CartPole-v1, {args.envs} envs x {args.rollout} steps per update, at most {updates} updates "
        f"({args.steps} steps)"
    )

    @TinyJit
    def act(obs: Tensor) -> tuple[Tensor, Tensor]:
        probs, values = model.logits(obs).softmax(), model.values(obs)
        return probs.realize(values), values

    @TinyJit
    def update(obs: Tensor, onehot: Tensor, old_logp: Tensor, adv: Tensor, returns: Tensor) -> Tensor:
        opt.zero_grad()
        logp_all = model.logits(obs).log_softmax()
        ratio = ((logp_all * onehot).sum(1) - old_logp).exp()
        clipped = ratio.clip(1 - args.clip, 1 + args.clip)
        policy_loss = -(ratio * adv).minimum(clipped * adv).mean()
        value_loss = (model.values(obs) - returns).square().mean()
        entropy = -(logp_all.exp() * logp_all).sum(1).mean()
        loss = policy_loss + 0.5 * value_loss - 0.01 * entropy
        loss.backward()
        return loss.realize(*opt.schedule_step())

    def policy(obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with no_grad():
            probs, values = act(Tensor(obs.astype(np.float32)))
            return probs.numpy(), values.numpy()

    shape = (args.rollout, args.envs)
    buf_obs = np.zeros((*shape, n_obs), np.float32)
    buf_actions, buf_logp, buf_values, buf_rewards, buf_dones = (np.zeros(shape, np.float32) for _ in range(5))
    obs, _ = envs.reset(seed=args.seed)
    running_returns, episode_returns, steps = np.zeros(args.envs), [], 0
    started = time.perf_counter()
    bar = tqdm(range(updates), desc="PPO updates")
    for _ in bar:
        for t in range(args.rollout):
            probs, values = policy(obs)
            actions = (rng.random((args.envs, 1)) > probs.cumsum(axis=1)).sum(axis=1).clip(0, n_actions - 1)
            next_obs, rewards, terminated, truncated, info = envs.step(actions)
            rewards = rewards.astype(np.float32)
            running_returns += rewards
            cut = truncated & ~terminated
            if cut.any():  # the time limit, not a failure: bootstrap the reward with the value of the last state
                final = next_obs.copy()
                final[cut] = np.stack(info["final_obs"][cut])
                rewards = rewards + args.gamma * policy(final)[1] * cut
            for env in np.flatnonzero(terminated | truncated):
                episode_returns.append(running_returns[env])
                running_returns[env] = 0
            buf_obs[t], buf_actions[t], buf_values[t] = obs, actions, values
            buf_logp[t] = np.log(probs[np.arange(args.envs), actions] + 1e-8)
            buf_rewards[t], buf_dones[t] = rewards, terminated | truncated
            obs = next_obs
            steps += args.envs
        adv = advantages(buf_rewards, buf_values, buf_dones, policy(obs)[1], args.gamma, args.lam)
        flat = {
            "obs": buf_obs.reshape(batch, n_obs),
            "onehot": np.eye(n_actions, dtype=np.float32)[buf_actions.reshape(-1).astype(int)],
            "logp": buf_logp.reshape(-1),
            "adv": adv.reshape(-1),
            "returns": (adv + buf_values).reshape(-1),
        }
        with Tensor.train():
            for _ in range(args.epochs):
                order = rng.permutation(batch)
                for start in range(0, batch, minibatch):
                    part = {key: value[order[start : start + minibatch]] for key, value in flat.items()}
                    part["adv"] = (part["adv"] - part["adv"].mean()) / (part["adv"].std() + 1e-8)
                    loss = update(*(Tensor(value.astype(np.float32)) for value in part.values())).item()
        schedule.step()
        recent = float(np.mean(episode_returns[-100:])) if episode_returns else 0.0
        bar.set_postfix(loss=f"{loss:.3f}", ret=f"{recent:.1f}", episodes=len(episode_returns))
        if len(episode_returns) >= 100 and recent >= args.target:
            break
    bar.close()
    envs.close()
    train_time = time.perf_counter() - started

    greedy = evaluate(model, args.eval_episodes, args.seed + 1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot_path, weights_path = out / "cartpole.png", out / "cartpole.safetensors"
    title = f"PPO on CartPole-v1: greedy mean return {greedy.mean():.1f} over {args.eval_episodes} episodes"
    plot(plot_path, episode_returns, args.target, title)
    safe_save(get_state_dict(model), weights_path, metadata={"greedy_return": f"{greedy.mean():.1f}"})
    print(
        f"cartpole: greedy mean return {greedy.mean():.1f} over {args.eval_episodes} episodes (training: last-100 mean "
        f"{recent:.1f} after {len(episode_returns)} episodes, {steps} steps); trained {train_time:.1f} s on "
        f"{Device.DEFAULT}; plot in {plot_path}, weights in {weights_path}"
    )


if __name__ == "__main__":
    main()
