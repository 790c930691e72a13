// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Votes} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Votes.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

/// @title OPEN, the token OpenPoA fees and rewards are paid in.
/// @notice Plain OpenZeppelin ERC20 with EIP-2612 permits (so a request can be opened in one
/// transaction) and ERC20Votes (delegated voting power for governance). The whole supply is
/// minted once, to a holder the deployer names; there is no further minting.
contract OpenToken is ERC20, ERC20Permit, ERC20Votes {
    constructor(address holder, uint256 initialSupply) ERC20("OpenPoA", "OPEN") ERC20Permit("OpenPoA") {
        _mint(holder, initialSupply);
    }

    function _update(address from, address to, uint256 value) internal override(ERC20, ERC20Votes) {
        super._update(from, to, value);
    }

    function nonces(address owner) public view override(ERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }
}
